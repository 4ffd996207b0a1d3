// masto 7.x on conversations: the direct stream over WebSocket, then list, read and remove over REST.
// Env: BASE_URL, TOKEN (the reader), READER_ACCT (the reader's acct), OTHER_TOKEN (the one who writes to the reader).
// Mastodon's streaming API does not acknowledge a subscription, so the writer sends a direct message
// every 300 ms until the first conversation event arrives (at most 30 times).
// Prints {"streamed", "sent", "listed", "read", "after"}.
import { createRestAPIClient, createStreamingAPIClient } from 'masto'

const url = process.env.BASE_URL
const reader = createRestAPIClient({ url, accessToken: process.env.TOKEN })
const writer = createRestAPIClient({ url, accessToken: process.env.OTHER_TOKEN })
const instance = await reader.v2.instance.fetch()
const streaming = createStreamingAPIClient({
  streamingApiUrl: instance.configuration.urls.streaming,
  accessToken: process.env.TOKEN,
})

const subscription = streaming.direct.subscribe()
const sent = []
let streamed = null
const sending = (async () => {
  for (let i = 0; i < 30 && streamed === null; i++) {
    const status = await writer.v1.statuses.create({ status: `@${process.env.READER_ACCT} note ${i}`, visibility: 'direct' })
    sent.push(status.id)
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
})()
for await (const event of subscription) {
  if (event.event === 'conversation') {
    streamed = { event: event.event, payload: event.payload }
    break
  }
}
subscription.unsubscribe()
streaming.close()
await sending

const listed = await reader.v1.conversations.list({ limit: 10 })
const read = await reader.v1.conversations.$select(listed[0].id).read()
await reader.v1.conversations.$select(listed[0].id).remove()
const after = await reader.v1.conversations.list()
console.log(JSON.stringify({ streamed, sent, listed, read, after }))
