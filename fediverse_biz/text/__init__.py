"""Text that comes from people and peers: sanitising HTML (sanitize.py), and finding mentions, hashtags and
links in a post and rendering it (content.py)."""
