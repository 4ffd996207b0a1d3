"""Form errors in words: the domain's messages name fields by their code (`salary_min 'abc' is not a
number`), which is right for the API and wrong for a person reading a form. A page gives each field a
noun ("The lowest salary"), and every problem becomes one sentence shown beside its field, all of them
at once, with a summary above the form that links to each field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

_QUOTED_FIRST: Final = re.compile(r"""^('[^']*'|"[^"]*") (.+)$""")
_VERB_FIRST: Final = ("is ", "are ", "must ", "can't ", "cannot ", "does ", "contains ", "has ", "should ")


def sentence(field: str, message: str, nouns: Mapping[str, str]) -> str:
    """One problem as a sentence: "The lowest salary, 'abc', is not a number." Code names inside the
    message become their nouns too ("is below salary_min" → "is below the lowest salary")."""
    noun = nouns.get(field, "This field")
    for code, other in nouns.items():
        if code != field and "_" in code:  # only names that are plainly code: "password" is also a word
            message = re.sub(rf"\b{re.escape(code)}\b", other[:1].lower() + other[1:], message)
    message = message.strip().rstrip(".")
    quoted = _QUOTED_FIRST.match(message)
    if quoted is not None:  # "'abc' is not a number"
        text = f"{noun}, {quoted.group(1)}, {quoted.group(2)}"
    elif message.startswith(_VERB_FIRST):  # "is in the past (2020-01-01)"
        text = f"{noun} {message}"
    else:
        text = f"{noun}: {message}"
    return text + "."


def worded(problems: Mapping[str, str], nouns: Mapping[str, str]) -> dict[str, str]:
    """Every problem as a sentence, keyed by the field it belongs beside, in the order of `nouns` (the form's)."""
    ordered = [name for name in nouns if name in problems] + [name for name in problems if name not in nouns]
    return {name: sentence(name, problems[name], nouns) for name in ordered}
