// megalodon's own detector (what Whalebird runs when a server is added), then its Mastodon client
// logged in with the token. Env: BASE_URL, TOKEN. Prints {"sns", "username"}.
import megalodon from 'megalodon'

const { detector } = megalodon
const generator = megalodon.default
const sns = await detector(process.env.BASE_URL)
const client = generator(sns, process.env.BASE_URL, process.env.TOKEN)
const me = await client.verifyAccountCredentials()
console.log(JSON.stringify({ sns, username: me.data.username }))
