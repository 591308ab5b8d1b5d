"""`.zip` archives of a BEIR or VectorDBBench folder, unpacked safely.

BEIR distributes its sets as zips (``scifact.zip`` holds ``scifact/corpus.jsonl`` …). An archive
is checked before anything is written: no absolute paths, no ``..`` components, no links or
devices, at most `MAX_MEMBERS` members, and a declared unpacked total within the limit (zip
readers stop at each member's declared size, so the total cannot grow while unpacking).
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

#: Largest total an archive may unpack to, and most members it may hold.
MAX_UNPACKED_BYTES = 4 * 2**30
MAX_MEMBERS = 10_000


def check_archive(archive: zipfile.ZipFile, filename: str, max_bytes: int = MAX_UNPACKED_BYTES) -> None:
    """ValueError naming the first unsafe member, or the size, before anything is unpacked."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ValueError(f"{filename} holds {len(infos):,} members, more than the {MAX_MEMBERS:,} allowed")
    total = 0
    for info in infos:
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
            raise ValueError(f"{filename}: member {info.filename!r} would be written outside the folder it is "
                             "unpacked into (absolute path or '..'); nothing was unpacked")
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            raise ValueError(f"{filename}: member {info.filename!r} is a link or special file; only plain files "
                             "and folders are unpacked")
        total += info.file_size
    if total > max_bytes:
        raise ValueError(f"{filename} would unpack to {total / 2**20:,.0f} MB, over the {max_bytes / 2**20:,.0f} MB "
                         "limit; load a smaller set, or unpack it and open the folder from the command line")


def unpack(path: Path, dest: Path, max_bytes: int = MAX_UNPACKED_BYTES) -> Path:
    """Unpack a checked archive into ``dest``; return the folder holding the dataset (its root, or the
    one folder inside it)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{path.name} is not a readable .zip archive ({e})") from None
    with archive:
        check_archive(archive, path.name, max_bytes)
        for info in archive.infolist():
            if info.is_dir() or PurePosixPath(info.filename).parts[:1] == ("__MACOSX",):
                continue
            target = dest.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as e:
                # a bad CRC, damaged deflate data, a name that differs between header and directory,
                # an unsupported compression or encryption: the archive is damaged, nothing is kept
                target.unlink(missing_ok=True)
                raise ValueError(f"{path.name}: member {info.filename!r} cannot be unpacked ({e}); the archive is "
                                 "damaged or uses a method this reader lacks. Zip the folder again and retry") from None
    entries = [p for p in dest.iterdir() if p.name != "__MACOSX"]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest
