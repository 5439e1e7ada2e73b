"""Reading real data for the table worlds: file readers (`movielens_files`, `kuairec_files`),
the MovieLens fit (`factorization`), and what the readers share."""

from pathlib import Path


def one_line(error: Exception) -> str:
    """A parser's message on one line (pandas' may span several)."""
    return " ".join(str(error).split())


def file_stamp(data_dir: str, patterns: tuple[str, ...]) -> tuple:
    """What identifies the data files in a process (the key of its in-memory cache of a
    world): the paths matching `patterns`, their sizes and modification times."""
    root = Path(data_dir).expanduser().resolve()
    return tuple(
        (str(path), path.stat().st_size, path.stat().st_mtime_ns)
        for pattern in patterns
        for path in sorted(root.glob(pattern))
    )
