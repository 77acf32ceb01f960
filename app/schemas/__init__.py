"""The JSON API's request and response bodies (pydantic): `common` holds what
every body shares, and each route group has its module (auth, users, audio,
storage, yoto, cards, playlists, players, scheduled)."""
