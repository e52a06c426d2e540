"""The test suite: pure-core tests with no event loop, end-to-end tests over 127.0.0.1 (the PBX
simulator, the real aiohttp server, Debian's chromium), and replays of the real Asterisk captures."""
