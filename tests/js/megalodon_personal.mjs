// megalodon 9.x (Whalebird) on reports and domain blocks. Env: BASE_URL, TOKEN, ACCOUNT_ID, STATUS_ID.
// Prints what each call returned.
import megalodon from 'megalodon'

const client = megalodon.default('mastodon', process.env.BASE_URL, process.env.TOKEN)
const report = (await client.report(process.env.ACCOUNT_ID, {
  status_ids: [process.env.STATUS_ID], comment: 'fake offers', category: 'other',
})).data
await client.blockDomain('spam.example')
const blocked = (await client.getDomainBlocks()).data
await client.unblockDomain('spam.example')
const afterRemove = (await client.getDomainBlocks()).data
console.log(JSON.stringify({ report, blocked, afterRemove }))
