// masto 7.x's REST client, as Elk builds it. Env: BASE_URL, TOKEN. Prints the account entity.
import { createRestAPIClient } from 'masto'

const masto = createRestAPIClient({ url: process.env.BASE_URL, accessToken: process.env.TOKEN })
const me = await masto.v1.accounts.verifyCredentials()
console.log(JSON.stringify(me))
