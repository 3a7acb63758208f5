"""The Python globals a torch checkpoint's pickles refer to, and those a STARK file may use.

A pickle rebuilds objects by importing the globals it names and calling them, so a file that names
`subprocess.call` or `builtins.exec` could run anything. The checkpoint loader therefore lists the
globals before any unpickling, refuses the file when one of them is not on the list below, and
only then reads it with `torch.load(weights_only=True)`. The list holds what the official STARK
files need: the tensor rebuilders and storage types of torch, `collections.OrderedDict`,
`torch.device`, and the official trainer's own classes (`lib.train...`: settings, statistics),
which the loader reads as inert placeholders.

Both of torch's file formats are read: the zip archive of torch 1.6 and later (its `.pkl`
records) and the legacy stream torch 1.5 writes (five pickles one after another, then the raw
tensor data). Listing a pickle never executes it: `pickletools` only decodes the opcodes.
"""
import _compat_pickle
import pickletools
import zipfile
import zlib
from pathlib import Path

# Globals of the official trainer's package: pickled beside `net`, read as inert placeholders.
TRAINING_PACKAGE = 'lib.train'
_TENSOR_GLOBALS = frozenset(
    ['collections.OrderedDict', 'torch.device']
    + [f'torch._utils.{name}' for name in ('_rebuild_tensor_v2', '_rebuild_parameter')]
    + [f'torch.{kind}Storage' for kind in ('Float', 'Double', 'Half', 'BFloat16', 'Long', 'Int',
                                           'Short', 'Char', 'Byte', 'Bool')])
_ZIP_START = b'PK\x03\x04'   # first bytes of a zip archive (its directory is at the end)
# The legacy format: magic number, protocol version, system info, the object, storage keys.
_LEGACY_PICKLES = 5
# Stand-in for a STACK_GLOBAL whose module and name are not plain strings in the stream.
UNNAMED_GLOBAL = '<a global whose name is computed>'
_STRING_OPS = frozenset({'STRING', 'BINSTRING', 'SHORT_BINSTRING', 'UNICODE', 'BINUNICODE',
                         'SHORT_BINUNICODE', 'BINUNICODE8'})
_GET_OPS = frozenset({'GET', 'BINGET', 'LONG_BINGET'})
_PUT_OPS = frozenset({'PUT', 'BINPUT', 'LONG_BINPUT'})
_NON_PUSHING_OPS = frozenset({'PROTO', 'FRAME', 'STOP', 'MEMOIZE'}) | _PUT_OPS


class PickleFormatError(ValueError):
    """The file is neither a torch zip archive nor a torch legacy stream of pickles."""


class _BoundedReader:
    """A binary file whose reads never ask for more than is left in it.

    A damaged length field in a pickle can claim exabytes; `read(n)` would try to allocate them.
    """

    def __init__(self, stream):
        self._stream = stream
        self._size = stream.seek(0, 2)
        stream.seek(0)

    def read(self, size: int = -1) -> bytes:
        left = self._size - self._stream.tell()
        return self._stream.read(left if size < 0 else min(size, left))

    def readline(self) -> bytes:
        return self._stream.readline()

    def tell(self) -> int:
        return self._stream.tell()


def _python3_name(module: str, name: str) -> str:
    """'module.name' as unpickling resolves a protocol 0-2 global (Python 2 names mapped back,
    as pickle's fix_imports does: '__builtin__ exec' is builtins.exec)."""
    module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
    return f'{_compat_pickle.IMPORT_MAPPING.get(module, module)}.{name}'


def _globals_in_pickle(stream) -> list[str]:
    """'module.name' of each global one pickle names (GLOBAL, INST, STACK_GLOBAL), in order.

    STACK_GLOBAL takes its module and name from the stack; they are found by following the
    strings pushed before it, directly or through the memo. torch itself writes protocol 2
    (GLOBAL only), so a name that cannot be followed is reported as UNNAMED_GLOBAL.
    """
    found, recent, memo, protocol = [], [], {}, 0
    for opcode, argument, _ in pickletools.genops(stream):
        name = opcode.name
        if name == 'PROTO':
            protocol = argument
        elif name in ('GLOBAL', 'INST'):
            module, attribute = argument.split(' ', 1)
            found.append(_python3_name(module, attribute) if protocol < 3
                         else f'{module}.{attribute}')
        elif name == 'STACK_GLOBAL':
            module, attribute = (recent[-2:] if len(recent) >= 2 else (None, None))
            plain = isinstance(module, str) and isinstance(attribute, str)
            found.append(f'{module}.{attribute}' if plain else UNNAMED_GLOBAL)
        if name == 'MEMOIZE':
            memo[len(memo)] = recent[-1] if recent else None
        elif name in _PUT_OPS:
            memo[argument] = recent[-1] if recent else None
        if name in _NON_PUSHING_OPS:
            continue
        if name in _STRING_OPS:
            value = argument
        elif name in _GET_OPS:
            value = memo.get(argument)
        else:
            value = None
        recent = [*recent[-1:], value]
    return found


def _zip_globals(path: Path) -> list[str]:
    """Globals named by the `.pkl` records of a torch zip archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            records = [n for n in archive.namelist() if n.endswith('.pkl')]
            if not records:
                raise PickleFormatError('a zip archive without the data.pkl of a torch file')
            found = []
            for record in records:
                with archive.open(record) as stream:
                    try:
                        found += _globals_in_pickle(stream)
                    except ValueError as error:   # pickletools: unknown opcode, data ends early
                        raise PickleFormatError(f'{record} is not a pickle ({error})') from error
            return found
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError) as error:
        raise PickleFormatError(f'damaged zip archive: {error}') from error


def _legacy_globals(path: Path) -> list[str]:
    """Globals named by the pickles at the start of a legacy (torch 1.5 and older) file."""
    found = []
    with open(path, 'rb') as stream:
        bounded = _BoundedReader(stream)
        for _ in range(_LEGACY_PICKLES):
            found += _globals_in_pickle(bounded)
    return found


def pickled_globals(path: str | Path) -> list[str]:
    """'module.name' of every global the checkpoint's pickles refer to (repeats kept, in order).

    Raises:
        PickleFormatError: not a torch file in either format (the message says what was met).
        OSError: the file cannot be read.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _zip_globals(path)
    with open(path, 'rb') as stream:
        if stream.read(len(_ZIP_START)) == _ZIP_START:
            raise PickleFormatError('a zip archive without its directory (cut short or damaged)')
    try:
        return _legacy_globals(path)
    except ValueError as error:   # pickletools: an unknown opcode, or the data ends early
        message = f'neither a zip archive nor a stream of pickles ({error})'
        raise PickleFormatError(message) from error


def is_training_object(name: str) -> bool:
    """True for a class of the official trainer (`lib.train...`), read as a placeholder."""
    return name.startswith(TRAINING_PACKAGE + '.')


def refused_globals(names: list[str]) -> list[str]:
    """The distinct names, in first-seen order, that a STARK checkpoint may not use."""
    return [name for name in dict.fromkeys(names)
            if name not in _TENSOR_GLOBALS and not is_training_object(name)]
