// masto 7.x on what a user decides alone: a report, domain blocks, a private note, removing the avatar.
// Env: BASE_URL, TOKEN, ACCOUNT_ID (an account to report and annotate), STATUS_ID (one of its statuses).
// Prints what each call returned.
import { createRestAPIClient } from 'masto'

const masto = createRestAPIClient({ url: process.env.BASE_URL, accessToken: process.env.TOKEN })
const report = await masto.v1.reports.create({
  accountId: process.env.ACCOUNT_ID, statusIds: [process.env.STATUS_ID], comment: 'spam', category: 'spam',
})
await masto.v1.domainBlocks.create({ domain: 'spam.example' })
await masto.v1.domainBlocks.create({ domain: 'ads.example' })
const blocked = await masto.v1.domainBlocks.list({ limit: 1 })  // one page: the Link header pages on
const firstPages = []
for await (const page of masto.v1.domainBlocks.list({ limit: 1 })) firstPages.push(page)
await masto.v1.domainBlocks.remove({ domain: 'spam.example' })
const afterRemove = await masto.v1.domainBlocks.list()
const noted = await masto.v1.accounts.$select(process.env.ACCOUNT_ID).note.create({ comment: 'pays late' })
const withoutAvatar = await masto.v1.profile.avatar.remove()
const withoutHeader = await masto.v1.profile.header.remove()
console.log(JSON.stringify({ report, blocked, firstPages, afterRemove, noted, withoutAvatar, withoutHeader }))
