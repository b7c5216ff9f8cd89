#!/usr/bin/env bash
# Regenerates the seed inputs of every fuzz target in fuzz/corpus/<target>/
# from RFC 6455 examples (§5.7 frames, §1.2/§1.3 handshake) and
# Autobahn-like edge cases. Seeds are named seed-*; files the fuzzer adds
# (named by their SHA-1) are left alone. Run from anywhere:
#   bash fuzz/seed.sh
set -euo pipefail
mkdir -p "$(dirname "$0")/corpus"
cd "$(dirname "$0")/corpus"

put() { # put TARGET NAME PRINTF-FORMAT...
  local target=$1 name=$2; shift 2
  mkdir -p "$target"
  printf "$@" > "$target/seed-$name"
}

# Frames (RFC 6455 §5.7 and friends), as raw wire bytes.
declare -A FRAMES=(
  [hello-unmasked]='\x81\x05Hello'
  [hello-masked]='\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58'
  [fragmented-unmasked]='\x01\x03Hel\x80\x02lo'
  [fragmented-masked]='\x01\x83\x01\x02\x03\x04\x49\x67\x6f\x80\x82\x01\x02\x03\x04\x6d\x6d'
  [ping-unmasked]='\x89\x05Hello'
  [pong-masked]='\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58'
  [ping-between-fragments]='\x01\x03Hel\x89\x00\x80\x02lo'
  [len-126]='\x82\x7e\x01\x00'
  [len-127]='\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00'
  [len-126-nonminimal]='\x82\x7e\x00\x05Hello'
  [close-normal]='\x88\x02\x03\xe8'
  [close-reason-masked]='\x88\x85\x00\x00\x00\x00\x03\xe8bye'
  [close-empty]='\x88\x00'
  [close-one-byte]='\x88\x01\x03'
  [close-1005]='\x88\x02\x03\xed'
  [close-999]='\x88\x02\x03\xe7'
  [close-5000]='\x88\x02\x13\x88'
  [close-1014]='\x88\x02\x03\xf6'
  [close-bad-utf8]='\x88\x03\x03\xe8\xff'
  [text-invalid-utf8]='\x81\x04\xce\xba\xe1\xbd'
  [text-invalid-utf8-early]='\x01\x02\xed\xa0\x80\x02\x80\x80'
  [text-split-codepoint]='\x01\x02\xce\x80\x80\x01\xba'
  [rsv1]='\xc1\x05Hello'
  [rsv3]='\x91\x00'
  [reserved-opcode-3]='\x83\x00'
  [reserved-opcode-b]='\x8b\x00'
  [fragmented-ping]='\x09\x00'
  [ping-126]='\x89\x7e\x00\x7e'
  [len-msb]='\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00'
  [unexpected-continuation]='\x80\x02lo'
  [expected-continuation]='\x01\x03Hel\x81\x02lo'
  [empty-text]='\x81\x00'
  [empty-fragments]='\x01\x00\x00\x00\x80\x00'
)

for name in "${!FRAMES[@]}"; do
  frame=${FRAMES[$name]}
  put frame_header "$name" "$frame"
  put differential_tungstenite "$name" "$frame"
  # frame_decode: config flags 0, 256-byte buffer, chunk sizes 1 and 3.
  put frame_decode "$name" "\x00\x00\x02\x01\x03$frame"
done
# Frames with a mask key, for the server view of the differential target.
put differential_tungstenite ping-masked '\x89\x80\x01\x02\x03\x04'
put differential_tungstenite binary-256-masked "\x82\xfe\x01\x00\x00\x00\x00\x00$(head -c 256 /dev/zero | tr '\0' 'x')"
put frame_decode binary-300-masked "\x00\x00\x00\x82\xfe\x01\x2c\x01\x02\x03\x04$(head -c 300 /dev/zero | tr '\0' 'y')"
# Small limits: max frame 1, max message 1000, max fragments 2 (config flags 1).
put frame_decode limits '\x01\x02\x04\x02\x00\x00\x81\x05Hello\x01\x01H\x00\x01e\x80\x01l'

# inflate: client and server deflate configs (3 bytes each: flags, level,
# min-size pick; flags 0xfc: 15-bit windows), limits flags 0, buffer
# pick, chunk sizes, then frames from RFC 7692 §7.2.3, unmasked (client
# view) and masked with a zero key (server view).
DEFL='\xfc\x01\x00\xfc\x01\x00\x00\x00\x02\x01\x05'
put inflate hello "$DEFL\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"
put inflate hello-masked "$DEFL\xc1\x87\x00\x00\x00\x00\xf2\x48\xcd\xc9\xc9\x07\x00"
put inflate shared-window "$DEFL\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00\xc1\x05\xf2\x00\x11\x00\x00"
put inflate stored-block "$DEFL\xc1\x0b\x00\x05\x00\xfa\xffHello\x00"
put inflate bfinal "$DEFL\xc1\x08\xf3\x48\xcd\xc9\xc9\x07\x00\x00"
put inflate fragmented "$DEFL\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00"
put inflate corrupt "$DEFL\xc1\x05\xff\xff\xff\xff\xff"
put inflate rsv1-on-continuation "$DEFL\x41\x03\xf2\x48\xcd\xc0\x04\xc9\xc9\x07\x00"
put inflate rsv1-on-ping "$DEFL\xc9\x00"
put inflate no-context-small-windows '\x03\x05\x01\x00\x09\x00\x00\x00\x00\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00'

# Close payloads (RFC 6455 §5.5.1, §7.4).
put close_payload empty ''
put close_payload one-byte '\x03'
put close_payload normal '\x03\xe8'
put close_payload going-away-reason '\x03\xe9bye'
put close_payload 1005 '\x03\xed'
put close_payload 1006 '\x03\xee'
put close_payload 1015 '\x03\xf7'
put close_payload 999 '\x03\xe7'
put close_payload 3000 '\x0b\xb8'
put close_payload 4999 '\x13\x87\xc3\xa9'
put close_payload 5000 '\x13\x88'
put close_payload bad-utf8 '\x03\xe8\xff\xfe'
put close_payload long-reason "\x03\xe8$(head -c 123 /dev/zero | tr '\0' 'r')"

# Handshake (RFC 6455 §1.2, §1.3).
REQUEST='GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n'
put handshake_request rfc-1-2 "$REQUEST"
put handshake_request rfc-1-2-with-frame "$REQUEST\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
put handshake_request extensions 'GET /chat?x=1 HTTP/1.1\r\nHost: h:80\r\nUpgrade: h2c, WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo; p="a,b"\r\nSec-WebSocket-Extensions: x-bar\r\n\r\n'
put handshake_request bare-lf 'GET / HTTP/1.1\nHost: h\nUpgrade: websocket\nConnection: upgrade\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\nSec-WebSocket-Version: 13\n\n'
put handshake_request post 'POST /chat HTTP/1.1\r\nHost: h\r\n\r\n'
put handshake_request http-1-0 'GET / HTTP/1.0\r\nHost: h\r\n\r\n'
put handshake_request version-8 'GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n'
put handshake_request bad-key 'GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\nSec-WebSocket-Version: 13\r\n\r\n'
put handshake_request partial 'GET /chat HTTP/1.1\r\nHost: server.example.com\r\n'

RESPONSE='HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n'
# First byte: bit 0 offers chat, bit 1 superchat, bits 3-4 the extension offer.
put handshake_response rfc-1-2 "\x03${RESPONSE}Sec-WebSocket-Protocol: chat\r\n\r\n"
put handshake_response no-protocol "\x00${RESPONSE}\r\n"
put handshake_response extension "\x08${RESPONSE}Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n"
put handshake_response unoffered-protocol "\x00${RESPONSE}Sec-WebSocket-Protocol: chat\r\n\r\n"
put handshake_response bad-accept '\x00HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
put handshake_response redirect '\x00HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n'

# Extension and subprotocol lists: one header per line; the first byte
# picks the name (0 Sec-WebSocket-Extensions, 2 Sec-WebSocket-Protocol).
put extension_offers deflate '\x00permessage-deflate; client_max_window_bits; server_max_window_bits=10'
put extension_offers quoted '\x00x-foo; p="a,b", x-bar; q="\\",", , permessage-deflate\n\x01x-baz'
put extension_offers unterminated '\x00a; p="x, b\n\x00c'
put extension_offers protocols '\x02chat, superchat\n\x02 v2.json ,\n\x03ignored'
put extension_offers non-utf8 '\x00\xff\xfe, ok\n\x02\xc3\x28, chat'

# roundtrip: buffer size, then per message: flags (bit 0 sender, bit 1
# binary, bits 2-3 fragments - 1, bit 6 pings between fragments), sizes.
put roundtrip hello '\x00\x00\x05Hello'
put roundtrip fragmented '\x00\x44\x03Hel\x02lo'
put roundtrip sizes '\x01\x03\xfb\x02\xfc\x01\xfd\x00\xfe'
put roundtrip both-ways '\x02\x00\x02hi\x03\x00\x02\x01\x02\x4e\x01a\x01b\x01c\x01d'

# connection: two config bytes (0: defaults), two buffer sizes, then
# commands: low bits % 15 pick the command, bit 7 the side (0 client).
put connection echo '\x00\x00\x00\x00\x00\x05Hello\x07\x81\x03\x01\x02\x03\x07\x05\x00\x03bye\x07'
put connection ping-close '\x00\x00\x00\x00\x03\x04ping\x07\x85\x06\x00\x07\x09\x05'
put connection fragments '\x00\x00\x00\x00\x02\x00\x03Hel\x03\x00\x07\x02\x02\x02lo\x07\x85\x00\x00\x07'
put connection corrupt '\x00\x00\x00\x00\x00\x05Hello\x08\x00\x01\x80\x07'
put connection keepalive '\x04\x02\x00\x04\x01\x00\x00\x00\x09\x05\x09\x05\x09\x05\x07\x09\x05'
put connection stalled '\x02\x03\x00\x01\x00\x8a\x80\x03\x10aaaaaaaaaaaaaaaa\x81\xff\x81\xff\x06\x00\x10\x8b\x10\x8a\x07'
put connection eof '\x00\x00\x00\x00\x00\x02hi\x8c\x07\x09\x04'
put connection broadcast '\x00\x00\x00\x00\x8f\x00\x05Hello\x07\x0f\x01\x02hi\x07\x8f\x01\xfc\x07'
