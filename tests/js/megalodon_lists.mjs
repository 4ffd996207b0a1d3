// megalodon 9.x on lists, as Whalebird uses them. Env: BASE_URL, TOKEN (the owner), MEMBER_ID (an account
// the owner follows). Prints what each call returned.
import megalodon from 'megalodon'

const client = megalodon.default('mastodon', process.env.BASE_URL, process.env.TOKEN)
const created = (await client.createList('Makers')).data
await client.addAccountsToList(created.id, [process.env.MEMBER_ID])
const members = (await client.getAccountsInList(created.id)).data
const timeline = (await client.getListTimeline(created.id)).data
const accountLists = (await client.getAccountLists(process.env.MEMBER_ID)).data
const renamed = (await client.updateList(created.id, 'Makers and shops')).data
await client.deleteList(created.id)
const afterDelete = (await client.getLists()).data
console.log(JSON.stringify({ created, members, timeline, accountLists, renamed, afterDelete }))
