"""Where input images may come from besides `data:` URLs: allow-listed public web hosts and a
configured local media directory. Both are off by default."""
