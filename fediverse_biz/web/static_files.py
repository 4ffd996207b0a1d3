"""/static/...: the package's own files (default avatar and header, instance thumbnail).

Entities point here whenever an image is missing: Mastodon clients crash on null or empty image
URLs (https://github.com/superseriousbusiness/gotosocial/issues/513,
https://github.com/jointakahe/takahe/pull/275), so avatar, header and thumbnail always have a real URL.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

DEFAULT_AVATAR = "default-avatar.png"
DEFAULT_HEADER = "default-header.png"
INSTANCE_THUMBNAIL = "thumbnail.png"

# StaticFiles answers GET and HEAD with ETag/Last-Modified and never serves outside the package's static/
# directory, which it finds through the package's import spec (wherever the package is installed).
routes: list[BaseRoute] = [
    Mount("/static", app=StaticFiles(packages=[("fediverse_biz.web", "static")]), name="static")
]
