"""When Arrow's RE2 accepts no text that Python's `re.match` rejects (the pre-check's regexes).

pandera's `str_matches` is `Series.str.match`: Python's `re.match` semantics (pandas hands it to
RE2 only where both agree). The pre-check may clear a row with RE2 only when RE2, given
`^(?:pattern)`, is at least as strict. The pattern is parsed by Python's own parser and every
node must be one both engines read alike or RE2 reads more strictly:
- literals, `.` (neither matches a newline), ranges, groups without flags, `|`, repeats, `^`;
- `$`: Python also matches before a final newline, RE2 only at the end (stricter);
- `\\d`, `\\w`, `\\s` outside negated sets: RE2's are ASCII subsets of Python's Unicode classes.
Anything else (negated classes, `\\b`, flags, lookarounds, back-references, possessive repeats)
is left to pandera. Spellings RE2 reads otherwise than Python (`[[:alpha:]]`, `a{,3}`, `\\0`,
`\\Q`, `(?#`) are refused on the text before parsing.
"""

from __future__ import annotations

import functools
import re

try:  # Python 3.11+
    from re import _constants as sre, _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as sre
    import sre_parse

# Spellings read otherwise (or not at all) by RE2; of the escapes, only \d, \w, \s and punctuation.
_READ_OTHERWISE = re.compile(r"\[:|\{,|\(\?#|\\[0-9A-Za-z]")
_CATEGORIES = {sre.CATEGORY_DIGIT, sre.CATEGORY_WORD, sre.CATEGORY_SPACE}
_AT = {sre.AT_BEGINNING, sre.AT_BEGINNING_STRING, sre.AT_END}


def _spelled_alike(pattern: str) -> bool:
    return all(m.group(0) in (r"\d", r"\w", r"\s") for m in _READ_OTHERWISE.finditer(pattern))


def _set_ok(items) -> bool:
    negated = any(op is sre.NEGATE for op, _ in items)
    for op, arg in items:
        if op is sre.CATEGORY and (negated or arg not in _CATEGORIES):
            return False
        if op not in (sre.LITERAL, sre.RANGE, sre.NEGATE, sre.CATEGORY):
            return False
    return True


def _nodes_ok(nodes) -> bool:
    for op, arg in nodes:
        if op in (sre.LITERAL, sre.ANY):
            continue
        if op is sre.IN:
            if not _set_ok(arg):
                return False
        elif op is sre.AT:
            if arg not in _AT:
                return False
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            if not _nodes_ok(arg[2]):
                return False
        elif op is sre.SUBPATTERN:
            _, add_flags, del_flags, inner = arg
            if add_flags or del_flags or not _nodes_ok(inner):
                return False
        elif op is sre.BRANCH:
            if not all(_nodes_ok(branch) for branch in arg[1]):
                return False
        else:
            return False
    return True


@functools.lru_cache(maxsize=256)
def re2_is_as_strict(pattern) -> bool:
    """True when RE2 matching `^(?:pattern)` accepts only texts `re.match(pattern)` accepts."""
    if not isinstance(pattern, str) or not _spelled_alike(pattern):
        return False
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return False
    if parsed.state.flags & ~sre.SRE_FLAG_UNICODE:
        return False
    return _nodes_ok(parsed)
