// masto 7.x on v2 filters: create one, list, read the home timeline's `filtered`, remove it.
// Env: BASE_URL, TOKEN. Prints {"created", "listed", "home", "afterRemove"}.
import { createRestAPIClient } from 'masto'

const masto = createRestAPIClient({ url: process.env.BASE_URL, accessToken: process.env.TOKEN })
const created = await masto.v2.filters.create({
  title: 'Invoices',
  context: ['home'],
  filterAction: 'warn',
  keywordsAttributes: [{ keyword: 'invoice', wholeWord: true }],
})
const listed = await masto.v2.filters.list()
const home = await masto.v1.timelines.home.list({ limit: 20 })
await masto.v2.filters.$select(created.id).remove()
const afterRemove = await masto.v2.filters.list()
console.log(JSON.stringify({ created, listed, home, afterRemove }))
