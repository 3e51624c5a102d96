#!/usr/bin/env bash
# The demo (run by `make demo`, which creates .venv and installs first): build a small mixed corpus,
# index it with the offline default encoder, and run three text queries whose ranked results mix
# text, image and image+text documents. Real photos: scikit-image's bundled CC0 photos, plus COCO
# photos with human captions from ../shared/data/coco-mini when that folder exists.
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=.cache/demo-corpus
STORE=demo-store
rm -rf "$CORPUS" "$STORE"

python scripts/sample_corpus.py "$CORPUS"
if [ -d ../shared/data/coco-mini ]; then
  python scripts/build_coco_folder.py --src ../shared/data/coco-mini --out "$CORPUS/coco" --limit 150
fi

mixsearch index "$CORPUS" --into "$STORE"
echo
mixsearch search "$STORE" -k 5 "a cat" -q "a rocket launch" -q "a man riding a horse"
echo
echo "Store: $STORE  (try: mixsearch search $STORE \"your query\" --json; mixsearch info $STORE)"
