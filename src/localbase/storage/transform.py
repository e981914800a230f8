"""Image transformations on download (/render/image/...), with Pillow: width, height, resize
(cover: crop to fill, contain: fit inside, fill: stretch), quality, format (origin keeps the
source's; avif, webp, jpeg, png; with none given, WebP when the client accepts it, as Supabase).

Renditions are cached on disk by object version and options, so an object's new version never
serves an old rendition; a version's renditions go with it."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from localbase.storage import errors

MAX_DIMENSION = 2500  # as Storage: width and height 1..2500
MAX_SOURCE_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a larger source (a decompression bomb) is refused
RESIZE = ("cover", "contain", "fill")
FORMATS = {"avif": ("AVIF", "image/avif"), "webp": ("WEBP", "image/webp"), "jpeg": ("JPEG", "image/jpeg"),
           "jpg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png")}
_FROM_PIL = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "AVIF": "avif"}


@dataclass(frozen=True)
class Transform:
    width: int | None = None
    height: int | None = None
    resize: str = "cover"
    quality: int = 80
    format: str | None = None  # "origin", a FORMATS key, or None (decided by Accept)

    def key(self, accept_webp: bool) -> str:
        fmt = self.format or ("webp" if accept_webp else "origin")
        return f"w{self.width}h{self.height}{self.resize}q{self.quality}{fmt}"

    def describe(self) -> str:
        """The transformation as signed into a /render/image/sign token."""
        parts = [f"width:{self.width}" if self.width else "", f"height:{self.height}" if self.height else "",
                 f"resize:{self.resize}", f"quality:{self.quality}", f"format:{self.format}" if self.format else ""]
        return ",".join(p for p in parts if p)


def _int(value, name: str, low: int, high: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise errors.invalid_parameter(name, f"{name} must be an integer") from None
    if not low <= number <= high:
        raise errors.invalid_parameter(name, f"{name} must be between {low} and {high}")
    return number


def parse(options) -> Transform:
    """Options from a query string or a JSON `transform` object."""
    resize = str(options.get("resize") or "cover").lower()
    if resize not in RESIZE:
        raise errors.invalid_parameter("resize", f"resize must be one of {', '.join(RESIZE)}")
    fmt = options.get("format")
    fmt = str(fmt).lower() if fmt else None
    if fmt is not None and fmt != "origin" and fmt not in FORMATS:
        raise errors.invalid_parameter("format", "format must be origin, avif, webp, jpeg or png")
    return Transform(_int(options.get("width"), "width", 1, MAX_DIMENSION),
                     _int(options.get("height"), "height", 1, MAX_DIMENSION), resize,
                     _int(options.get("quality"), "quality", 20, 100) or 80, fmt)


def from_description(text: str) -> Transform:
    return parse(dict(part.split(":", 1) for part in text.split(",") if ":" in part))


def cache_path(cache_dir: Path, version: str, key: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return cache_dir / version[:2] / f"{version}-{digest}"


def drop_cached(cache_dir: Path, versions: list[str]) -> None:
    for version in versions:
        folder = cache_dir / version[:2]
        if folder.is_dir():
            for entry in folder.glob(f"{version}-*"):
                entry.unlink(missing_ok=True)


def render(source: bytes, options: Transform, accept_webp: bool) -> tuple[bytes, str]:
    """(bytes, mimetype) of the rendition; CPU-bound, run it in a thread."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image: Image.Image = Image.open(io.BytesIO(source))
        source_format = image.format or "PNG"
        image = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError):
        raise errors.image_error(422, "Source image cannot be transformed (not a supported image)") from None
    fmt = options.format or ("webp" if accept_webp else "origin")
    pil_format, mimetype = FORMATS.get(fmt) or FORMATS.get(_FROM_PIL.get(source_format, "png"), FORMATS["png"])
    image = _resized(image, options)
    if pil_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif image.mode == "P":
        image = image.convert("RGBA")
    out = io.BytesIO()
    save = {"quality": options.quality} if pil_format in ("JPEG", "WEBP", "AVIF") else {"optimize": True}
    image.save(out, pil_format, **save)
    return out.getvalue(), mimetype


def _resized(image, options: Transform):
    from PIL import Image, ImageOps

    width, height = options.width, options.height
    if width is None and height is None:
        return image
    if width is None or height is None:  # one side given: the other follows the aspect ratio
        ratio = (width / image.width) if width else (height / image.height)
        size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
        return image.resize(size, Image.Resampling.LANCZOS)
    if options.resize == "fill":
        return image.resize((width, height), Image.Resampling.LANCZOS)
    if options.resize == "contain":
        return ImageOps.contain(image, (width, height), Image.Resampling.LANCZOS)
    return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)


def write_cached(path: Path, data: bytes, mimetype: str) -> None:
    """Atomically: a reader sees a whole rendition or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{uuid.uuid4().hex}")
    tmp.write_bytes(mimetype.encode() + b"\n" + data)
    os.replace(tmp, path)


def read_cached(path: Path) -> tuple[bytes, str] | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    mimetype, _, data = raw.partition(b"\n")
    return data, mimetype.decode()
