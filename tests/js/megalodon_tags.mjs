// megalodon 9.x on followed hashtags. Env: BASE_URL, TOKEN. Prints {"followed", "listed", "unfollowed"}.
import megalodon from 'megalodon'

const client = megalodon.default('mastodon', process.env.BASE_URL, process.env.TOKEN)
const followed = (await client.followTag('logistics')).data
const listed = (await client.getFollowedTags()).data
const unfollowed = (await client.unfollowTag('logistics')).data
console.log(JSON.stringify({ followed, listed, unfollowed }))
