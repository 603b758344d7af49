"""Line breaking and page breaking, reproducing reportlab 5.1's Paragraph/Frame behaviour.

A behavioural port of the parts of ``reportlab.platypus.paragraph`` that the reference
configuration exercises (left alignment, no hyphenation, 5% space shrinkage, long words split
character by character, the CJK "dumb" wrap), written against our own fragment representation
(:mod:`renderer.text`). Float operations are kept in the same order as reportlab's, because
line breaks are decided by comparing those floats. One module per mechanism:

* :mod:`~renderer.layout.lines`: ``stringWidth``, the drawn :class:`Line` and its ``Tw``, the
  laid-out paragraph.
* :mod:`~renderer.layout.words`: ``_getFragWords`` and ``_splitFragWord``.
* :mod:`~renderer.layout.multi`: ``Paragraph.breakLines``, multi-fragment path.
* :mod:`~renderer.layout.simple`: ``Paragraph.breakLines``, single-fragment path.
* :mod:`~renderer.layout.cjk`: ``Paragraph.breakLinesCJK`` (``cjkFragSplit``, ``dumbSplit``)
  and its re-wrap after a page break (``_split_blParaHard``).
* :mod:`~renderer.layout.paragraph`: ``Paragraph.wrap``'s choice among those.
* :mod:`~renderer.layout.pagination`: the frame flow (``Frame.add``, ``Paragraph.split``).
* :mod:`~renderer.layout.open_paragraph`: the paragraph still arriving, for ``PageStream``.
"""

from renderer.layout.lines import LaidOut, Line, Measurer
from renderer.layout.open_paragraph import OpenParagraph
from renderer.layout.pagination import PageLines, Pager, paginate
from renderer.layout.paragraph import latin_laid_out, layout_paragraph

__all__ = [
    "LaidOut",
    "Line",
    "Measurer",
    "OpenParagraph",
    "PageLines",
    "Pager",
    "latin_laid_out",
    "layout_paragraph",
    "paginate",
]
