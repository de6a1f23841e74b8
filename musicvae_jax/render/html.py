"""A self-contained index.html of rolls, players and MIDI links
(`write_index_html`)."""

from __future__ import annotations

import html
import urllib.parse
from pathlib import Path
from typing import Sequence

_STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
       margin: 0; background: #f4f5f7; color: #1f2430; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 1.5em; font-weight: 650; margin: 0 0 18px; }
.card { background: #fff; border: 1px solid #dfe2e8; border-radius: 8px;
        padding: 14px 16px; margin: 0 0 16px; }
.card h2 { font-size: 1.05em; margin: 0 0 4px; }
.caption { color: #5b6270; font-size: 0.92em; margin: 0 0 8px; }
.roll { overflow-x: auto; }
.roll img { display: block; max-width: none; }
.top img { display: block; max-width: 100%; height: auto; }
.controls { display: flex; align-items: center; gap: 14px; margin-top: 8px; }
.controls audio { flex: 1; max-width: 520px; }
.controls a { color: #2563eb; text-decoration: none; font-weight: 600;
              white-space: nowrap; }
.controls a:hover { text-decoration: underline; }
"""


def _url(path: str) -> str:
  """A relative path as an escaped attribute value (spaces etc. %-quoted)."""
  return html.escape(urllib.parse.quote(str(path), safe="/:#?&=@%+~-_.!*'(),;"))


def write_index_html(out_dir: str | Path, items: Sequence[dict], title: str,
                     top_image: str | None = None) -> Path:
  """Writes `out_dir/index.html` and returns its path.

  A self-contained page (inline CSS, no scripts, no external assets): the
  optional `top_image` (e.g. the interpolation strip), then per item a card
  with its title, optional caption, piano roll, an `<audio controls>` player
  and a MIDI download link. All text is HTML-escaped.

  Args:
    out_dir: folder of the page (created if missing).
    items: dicts with `title`, `midi`, `png`, `wav` (paths relative to
      out_dir) and optionally `caption`.
    title: page title and heading.
    top_image: optional path (relative to out_dir) of an image shown first.
  """
  esc = html.escape
  parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f'<title>{esc(title)}</title><style>{_STYLE}</style></head>',
           f'<body><main><h1>{esc(title)}</h1>']
  if top_image:
    parts.append(f'<div class="card top"><img src="{_url(top_image)}" '
                 f'alt="all steps"></div>')
  for item in items:
    name = esc(str(item['title']))
    caption = item.get('caption')
    parts += [
        '<section class="card">', f'<h2>{name}</h2>',
        f'<p class="caption">{esc(str(caption))}</p>' if caption else '',
        f'<div class="roll"><img src="{_url(item["png"])}" '
        f'alt="piano roll of {name}" loading="lazy"></div>',
        '<div class="controls">',
        f'<audio controls preload="none" src="{_url(item["wav"])}"></audio>',
        f'<a href="{_url(item["midi"])}" download>&#x2B07; MIDI</a>',
        '</div></section>']
  parts.append('</main></body></html>')
  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  path = out_dir / 'index.html'
  path.write_text('\n'.join(p for p in parts if p) + '\n', encoding='utf-8')
  return path
