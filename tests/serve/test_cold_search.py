"""A text-only search loads neither torch nor the image model (that is what makes a cold
`mixsearch search` answer in about a second)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_text_search_imports_neither_torch_nor_transformers(built_store: Path) -> None:
    script = (
        "import json, sys\n"
        "from mixsearch.cli.main import main\n"
        f"status = main(['search', {str(built_store)!r}, 'a cat', '-k', '1', '--json'])\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'timm') if m in sys.modules)\n"
        "print(json.dumps({'status': status, 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    *_, last = out.stdout.strip().splitlines()
    assert json.loads(last) == {"status": 0, "heavy": []}
    assert '"doc_id": "chelsea.jpg"' in out.stdout
