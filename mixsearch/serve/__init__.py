"""`mixsearch serve`: an HTTP API and a web search page over one store.

Optional: it needs the ``serve`` extra (``pip install 'mixsearch[serve]'``: FastAPI, uvicorn,
python-multipart), imported only when the server starts. `create_app` builds the ASGI app;
`live.LiveStore` keeps the engine warm and current; `thumbnails` makes and caches thumbnails.
"""
