"""Image processing for media attachments and profile pictures: bytes in, clean renditions out.

Pure CPU work with no storage and no database, meant to run in a thread (asyncio.to_thread). Every
upload is re-encoded from its decoded pixels, which is what removes EXIF and XMP (GPS positions,
camera serials) and anything appended to the file (HTML/JS polyglots); see docs/media.md.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from blurhash._functions import ffi as _blurhash_ffi
from blurhash._functions import lib as _blurhash_lib
from PIL import Image, ImageCms, ImageOps

from fediverse_biz.core.errors import DomainError

# Limits advertised by /api/v1/instance (configuration.media_attachments); Mastodon's values.
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024
IMAGE_MATRIX_LIMIT = 33_177_600  # 7680 x 4320 pixels
SUPPORTED_MIME_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MAX_ORIGINAL_PIXELS = 3840 * 2160  # larger originals are scaled down to this area (Mastodon: 8.3 MP)
PREVIEW_MAX_SIDE = 640
# An animated GIF is kept as uploaded, but counting its frames decodes them: a tiny file can repeat
# a huge frame thousands of times. ~200 frames of 720p is plenty for a business post.
GIF_PIXEL_BUDGET = 200_000_000
JPEG_QUALITY = 85
BLURHASH_COMPONENTS = (4, 3)  # Mastodon's x/y components

# Pillow refuses (DecompressionBombError) anything over twice this at open(), and warns above it;
# both are caught below. The same number as our advertised limit, so the two checks agree.
Image.MAX_IMAGE_PIXELS = IMAGE_MATRIX_LIMIT

# Only these decoders are ever tried: SVG, PDF, PSD, ICO and friends never reach a parser.
_PILLOW_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
_OUTPUTS = {
    "JPEG": ("jpg", "image/jpeg"),
    "MPO": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
# Pillow raises a zoo of exceptions for hostile or truncated files.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

EMPTY = "Validation failed: File can't be blank"
TOO_LARGE = f"Validation failed: File size must be less than {IMAGE_SIZE_LIMIT // (1024 * 1024)} MB"
UNSUPPORTED = "Validation failed: unsupported file type; accepted: " + ", ".join(SUPPORTED_MIME_TYPES)
TOO_MANY_PIXELS = f"Validation failed: the image is larger than {IMAGE_MATRIX_LIMIT} pixels"
TOO_MANY_FRAMES = "Validation failed: the animation has too many frames"
UNDECODABLE = "Validation failed: the image is damaged and cannot be read"


class MediaError(DomainError):
    """An upload we refuse: 422 for bad input; 503 when our disk is full (core/media.py)."""


@dataclass(frozen=True)
class Rendition:
    data: bytes
    extension: str  # without the dot
    content_type: str
    width: int
    height: int

    def dimensions(self) -> dict[str, object]:
        """Mastodon's meta.original / meta.small shape."""
        return {
            "width": self.width,
            "height": self.height,
            "size": f"{self.width}x{self.height}",
            "aspect": self.width / self.height,
        }


@dataclass(frozen=True)
class ProcessedImage:
    original: Rendition
    preview: Rendition
    blurhash: str


def process_attachment(data: bytes) -> ProcessedImage:
    """Validate and re-encode an upload; a preview of at most PREVIEW_MAX_SIDE and its blurhash."""
    image = _open(data)
    with image:
        if image.format == "GIF" and getattr(image, "is_animated", False):
            # Animation survives only as the uploaded GIF (no video transcoding yet). GIF has no EXIF.
            _check_gif_frames(image)
            frame = _first_frame(image)
            original = Rendition(data, "gif", "image/gif", image.width, image.height)
        else:
            # APNG and animated WebP keep their first frame only.
            frame = _first_frame(image)
            if frame.width * frame.height > MAX_ORIGINAL_PIXELS:
                scale = math.sqrt(MAX_ORIGINAL_PIXELS / (frame.width * frame.height))
                size = (max(1, int(frame.width * scale)), max(1, int(frame.height * scale)))
                frame = frame.resize(size, Image.Resampling.LANCZOS)
            # A still GIF becomes PNG: lossless, and without GIF's 256-colour palette.
            original = _encode(frame, "PNG" if image.format == "GIF" else str(image.format))
    preview_image = _flatten(frame)
    preview_image.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE), Image.Resampling.LANCZOS)
    return ProcessedImage(original, _encode(preview_image, "JPEG"), _blurhash(preview_image))


def process_profile_image(data: bytes, box: tuple[int, int]) -> Rendition:
    """An avatar or header: first frame, cropped around the centre to exactly `box`."""
    image = _open(data)
    with image:
        frame = _first_frame(image)
    fitted = ImageOps.fit(frame, box, Image.Resampling.LANCZOS)
    return _encode(fitted, "PNG" if fitted.mode == "RGBA" else "JPEG")


def _open(data: bytes) -> Image.Image:
    if not data:
        raise MediaError(EMPTY)
    if len(data) > IMAGE_SIZE_LIMIT:
        raise MediaError(TOO_LARGE)
    try:
        # Reads the header only; the content type the client claimed is never consulted.
        image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(TOO_MANY_PIXELS) from None
    except _DECODE_ERRORS:
        raise MediaError(UNSUPPORTED) from None
    if image.format not in _OUTPUTS or image.width < 1 or image.height < 1:
        image.close()
        raise MediaError(UNSUPPORTED)
    if image.width * image.height > IMAGE_MATRIX_LIMIT:
        image.close()
        raise MediaError(TOO_MANY_PIXELS)
    return image


def _check_gif_frames(image: Image.Image) -> None:
    """Count frames ourselves: `n_frames` would decode every one of them, however many."""
    budget = GIF_PIXEL_BUDGET // (image.width * image.height)
    frames = 1
    try:
        while True:
            image.seek(frames)
            frames += 1
            if frames > budget:
                raise MediaError(TOO_MANY_FRAMES)
    except EOFError:
        pass
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(TOO_MANY_PIXELS) from None
    except _DECODE_ERRORS:
        raise MediaError(UNDECODABLE) from None


def _first_frame(image: Image.Image) -> Image.Image:
    """The first frame decoded, turned upright by its EXIF orientation, in sRGB, as RGB or RGBA.
    The result is a new image whose `info` carries nothing of the upload (no EXIF, XMP, ICC)."""
    try:
        image.seek(0)
        image.load()
        upright = ImageOps.exif_transpose(image)
        icc = image.info.get("icc_profile")
        has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in upright.info
        # CMYK goes through the colour transform directly; everything else is made RGB(A) first.
        mode = "RGBA" if has_alpha else "RGB"
        frame = upright if upright.mode == "CMYK" and icc else upright.convert(mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(TOO_MANY_PIXELS) from None
    except _DECODE_ERRORS:
        raise MediaError(UNDECODABLE) from None
    if icc:
        # Phones shoot Display P3; without its profile, stripped pixels would look washed out.
        try:
            converted = ImageCms.profileToProfile(
                frame, ImageCms.ImageCmsProfile(io.BytesIO(icc)), _SRGB, outputMode=mode
            )
            frame = converted if converted is not None else frame
        except (ImageCms.PyCMSError, *_DECODE_ERRORS):
            frame = frame.convert(mode)  # an unusable profile: keep the pixels as they are
    frame.info = {}  # a fresh image (convert/transpose copy): forget EXIF, XMP, ICC, text chunks
    return frame


def _flatten(frame: Image.Image) -> Image.Image:
    """RGB on white: previews are JPEG, which has no transparency."""
    if frame.mode != "RGBA":
        return frame.copy()
    background = Image.new("RGB", frame.size, (255, 255, 255))
    background.paste(frame, mask=frame.getchannel("A"))
    return background


def _encode(frame: Image.Image, pillow_format: str) -> Rendition:
    extension, content_type = _OUTPUTS[pillow_format]
    out = io.BytesIO()
    if extension == "jpg":
        _flatten(frame).save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif extension == "webp":
        frame.save(out, format="WEBP", quality=JPEG_QUALITY, method=4)
    else:
        frame.save(out, format="PNG")
    return Rendition(out.getvalue(), extension, content_type, frame.width, frame.height)


def _blurhash(frame: Image.Image) -> str:
    """blurhash-python's encode() reads pixels with Image.getdata, deprecated in Pillow 13 (a warning,
    hence an error in our tests) and one Python int per channel; its C encoder takes the raw bytes."""
    small = frame.convert("RGB")
    small.thumbnail((100, 100), Image.Resampling.BILINEAR)  # the hash keeps 12 colours; more is waste
    pixels = small.tobytes()
    destination = _blurhash_ffi.new("char[]", 2 + 4 + (9 * 9 - 1) * 2 + 1)
    result = _blurhash_lib.create_hash_from_pixels(
        BLURHASH_COMPONENTS[0],
        BLURHASH_COMPONENTS[1],
        small.width,
        small.height,
        _blurhash_ffi.from_buffer("uint8_t[]", pixels),
        small.width * 3,
        destination,
    )
    if result == _blurhash_ffi.NULL:
        raise ValueError("blurhash encoding failed")
    return str(_blurhash_ffi.string(result).decode("ascii"))
