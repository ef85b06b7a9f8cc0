package hpackz

// Byte vectors from the protocol digest (spec/test-vectors.md §7–§9),
// copied as they stand there.

// Uncompressed blocks (§7).
const (
	nvV3BarFoo = `
		00 00 00 02 00 00 00 03 62 61 72 00 00 00 03 66
		6f 6f 00 00 00 03 66 6f 6f 00 00 00 03 62 61 72`
	nvV2BarFoo = `
		00 02 00 03 62 61 72 00 03 66 6f 6f 00 03 66 6f
		6f 00 03 62 61 72`
	nvV3MultiValue = `
		00 00 00 01 00 00 00 0a 73 65 74 2d 63 6f 6f 6b
		69 65 00 00 00 07 61 3d 31 00 62 3d 32`
)

// compressedVectors are the frames of §8. Each was produced by a fresh
// compression context. The header block starts at payload offset off (after
// the 8-byte frame header): 10 for SYN_STREAM, 4 for SPDY/3 SYN_REPLY and
// HEADERS, 6 for SPDY/2 SYN_REPLY and HEADERS; off is -1 for a bare block.
var compressedVectors = []struct {
	name string
	v    Version
	off  int
	hex  string
}{
	{"ZV3-SYN-chromium", V3, 10, `
		80 03 00 01 00 00 00 37 00 00 00 01 00 00 00 00
		80 00 38 ea e3 c6 a7 c2 02 e5 0e 50 c2 4b 4a 04
		e5 0b 66 80 00 4a cb cf 07 08 20 10 95 96 9f 0f
		a2 00 02 28 29 b1 08 20 80 00 00 00 00 ff ff`},
	{"ZV3-SYN-chromium-simd", V3, 10, `
		80 03 00 01 00 00 00 32 00 00 00 01 00 00 00 00
		80 00 38 ea e3 c6 a7 c2 02 e5 0e 50 c2 4b 4a 04
		e5 0b 66 80 00 4a cb cf 07 08 20 24 0a 20 80 92
		12 8b 00 02 08 00 00 00 ff ff`},
	{"ZV3-SYN-chromium-2012", V3, 10, `
		80 03 00 01 00 00 00 27 00 00 00 01 00 00 00 00
		80 00 38 ea e3 c6 a7 c2 02 e5 0e 50 c2 4b 4a 04
		e5 0b e6 b4 fc 7c 24 0a 28 08 00 00 00 ff ff`},
	{"ZV3-REPLY-chromium", V3, 4, `
		80 03 00 02 00 00 00 31 00 00 00 01 38 ea e3 c6
		a7 c2 02 e5 0e 50 c2 4b 4a 04 e5 0b 66 80 00 4a
		cb cf 07 08 20 10 95 96 9f 0f a2 00 02 28 29 b1
		08 20 80 00 00 00 00 ff ff`},
	{"ZV3-HEADERS-chromium", V3, 4, `
		80 03 00 08 00 00 00 31 00 00 00 01 38 ea e3 c6
		a7 c2 02 e5 0e 50 c2 4b 4a 04 e5 0b 66 80 00 4a
		cb cf 07 08 20 10 95 96 9f 0f a2 00 02 28 29 b1
		08 20 80 00 00 00 00 ff ff`},
	{"ZV3-SYN-spdystream", V3, 10, `
		80 03 00 01 00 00 00 28 00 00 00 01 00 00 00 00
		80 00 78 f9 e3 c6 a7 c2 02 e5 0e 50 c2 4b 4a 04
		e5 0b e6 b4 fc 7c 24 2a 29 b1 08 00 00 00 ff ff`},
	{"ZV2-SYN-chromium", V2, 10, `
		80 02 00 01 00 00 00 36 00 00 00 01 00 00 00 00
		80 00 38 ea df a2 51 b2 62 60 62 60 4e 4a 2c 62
		60 06 08 a0 b4 fc 7c 80 00 62 60 4e cb cf 67 60
		06 08 a0 a4 c4 22 80 00 02 00 00 00 ff ff`},
	{"ZV2-SYN-chromium-2012", V2, 10, `
		80 02 00 01 00 00 00 25 00 00 00 01 00 00 00 00
		80 00 38 ea df a2 51 b2 62 60 62 60 4e 4a 2c 62
		60 4e cb cf 87 12 40 2e 00 00 00 ff ff`},
	{"ZV2-REPLY-chromium", V2, 6, `
		80 02 00 02 00 00 00 32 00 00 00 01 00 00 38 ea
		df a2 51 b2 62 60 62 60 4e 4a 2c 62 60 06 08 a0
		b4 fc 7c 80 00 62 60 4e cb cf 67 60 06 08 a0 a4
		c4 22 80 00 02 00 00 00 ff ff`},
	{"ZV2-HEADERS-chromium", V2, 6, `
		80 02 00 08 00 00 00 32 00 00 00 01 00 00 38 ea
		df a2 51 b2 62 60 62 60 4e 4a 2c 62 60 06 08 a0
		b4 fc 7c 80 00 62 60 4e cb cf 67 60 06 08 a0 a4
		c4 22 80 00 02 00 00 00 ff ff`},
	{"ZV2-BLOCK-chromium-get", V2, -1, `
		38 ea df a2 51 b2 62 60 66 60 cb 05 e6 c3 fc 14
		06 66 77 d7 10 06 66 90 a0 58 46 49 49 81 95 be
		3e 30 e2 f5 d2 f3 f3 d3 73 52 f5 92 f3 73 f5 19
		d8 a1 1a 19 38 60 e6 01 00 00 00 ff ff`},
	{"ZV3-SYN-browser", V3, 10, `
		80 03 00 01 01 00 04 1a 00 00 00 01 00 00 00 00
		00 00 38 ea e3 c6 a7 c2 02 65 57 50 22 b4 c2 9e
		20 d9 ad 10 a9 d9 dd 35 04 94 f1 ac a0 45 87 14
		30 ed eb 25 a6 15 65 e6 a5 e8 15 27 e9 a5 01 8b
		e9 24 60 42 d5 4b 06 17 30 ec 56 c5 c0 a2 33 17
		5c be 66 94 94 14 14 83 b5 16 24 82 8b 3b 6e 80
		00 d2 2f 2e 49 2c 29 2d d6 2b c8 28 00 08 20 94
		22 80 03 20 80 f2 f2 75 93 13 93 33 52 01 02 08
		5b e1 cb 01 10 40 79 f9 ba c9 89 c9 19 a9 00 01
		84 52 1b 78 21 42 1f 7b 78 a2 85 ba 35 c8 d7 96
		d0 58 29 4f 4d 2a d0 d1 d2 d7 02 0b 5a 00 4d 93
		84 96 01 ba 99 79 c5 a9 c9 a5 45 a9 ba 45 90 84
		0b 72 3f 23 40 00 19 02 04 10 46 d1 50 ee 9b 5f
		95 99 93 93 a8 6f aa 67 a0 a0 e1 9b 98 9c 99 57
		92 5f 9c 61 0d 4e ba 39 c0 14 97 ac e0 1f ac 10
		a1 60 68 10 0f 44 a6 9a c0 74 08 4c b5 e1 a9 49
		de 99 25 fa a6 c6 e6 7a c6 66 0a 1a de 1e 21 be
		3e 3a 0a 39 99 d9 a9 0a ee a9 c9 d9 f9 9a 0a ce
		19 c0 72 3a 55 df c4 42 cf 40 cf c8 d4 18 64 7a
		70 62 5a 62 51 26 54 13 f6 4a 4f 18 9c 16 14 60
		89 41 01 94 1a 90 54 22 57 41 a9 79 ba a1 c1 c0
		34 00 f7 39 1b ac 94 61 7a 0c 10 40 b9 f1 25 c5
		b6 86 26 86 66 96 a6 86 e6 06 66 d6 00 01 a4 90
		92 58 52 64 eb 1b 5f 60 10 e6 58 92 15 6e e9 92
		57 61 e9 1b 16 e8 e9 13 ef 98 9d 66 69 0d 10 40
		0a f1 e9 89 b6 ee 8e 86 7a 46 7a 86 46 46 86 e6
		66 66 16 66 96 7a 86 26 c6 c6 e6 96 c6 26 26 26
		d6 00 01 a4 90 53 6a 1b 92 ee 53 18 5a e2 63 ee
		e5 9a a9 eb ef 5e 98 96 14 98 eb e1 5d 9a 51 6e
		0d 10 40 0a 15 25 45 79 b6 8e 21 a6 c1 c6 c5 ba
		61 a6 7e 49 a5 65 51 a1 ce 29 c9 8e d6 00 01 08
		82 43 23 86 61 20 00 82 ad 84 1c f4 8c fe 5e 8a
		51 80 a2 4a 6c 68 31 cb 24 dd 67 f7 75 44 fc 3e
		ec 5f 74 dd 28 d9 0b 0e 74 dd db b3 50 b2 47 8d
		ac 91 b5 b4 30 71 a0 d7 44 c9 5e 70 a0 d7 dc 9e
		85 92 3d 6a d5 b6 e7 bb 94 da 70 a0 f3 44 c9 1e
		38 d0 79 6e cf 42 c9 3f 41 70 8e 03 20 08 00 01
		f0 35 5b 9a b0 07 51 62 45 f0 27 34 34 54 fa ff
		38 d3 99 c4 be 6a d8 dc a0 01 69 cd 0d 09 ee 05
		1a 90 d6 dc c7 f7 42 82 3b 43 87 4e a9 94 71 3e
		f7 2f 80 14 0a 6c 75 8d ac 01 02 48 21 b9 38 d7
		d6 c8 1a 20 80 14 2a 8a 6d 4d 8c 54 8d 1d b3 8a
		2c 13 53 7d b3 2c 3c 75 83 93 0b 03 55 8d 1d 8d
		54 8d 1d 0d 4d 0c 2c 4c cd 2c 4c cc 0d 55 8d 1d
		4d 0d 8d 8c ad 01 02 48 a1 d8 d6 31 d1 c4 a8 a4
		28 a2 d2 dd 33 b0 3c aa 2c d0 df 3b bc 5c cf 29
		c4 32 b0 32 c2 1a 20 80 14 d2 8a 6c 0d 4c fc 3c
		93 7c 9c 0a 9d 42 83 53 bc 7d fc 32 83 f5 1c c3
		23 fc 33 f3 92 53 33 0c 82 cd 4a 3d 92 8b 83 53
		12 43 e2 bd 4d e3 33 dd b3 f5 9c 82 8b 4c 72 13
		f5 5c 0b f5 dc 22 73 f5 0c f4 1c c3 43 bd 22 1d
		5d 52 ac 01 02 48 21 39 be b4 38 b5 c8 d6 d4 c2
		c0 d4 dc d4 cc d0 d0 1a 20 80 14 12 93 4b 6c 0d
		4d 4c 4c 8d 2d 4c 0d 4d cc cc 0d 2c 54 8d dc 4c
		ac 01 02 10 04 07 37 08 c3 30 00 00 57 61 84 d8
		b1 c1 79 f0 a8 54 7b 8d 8a 16 3f 90 d2 08 25 0e
		5d 9f bb db b7 fb f0 76 f8 53 d7 9f 65 8d cf e9
		06 44 9c 85 11 8b ce e1 dd 16 64 49 fc e0 3b c0
		82 3a e2 15 6e eb d8 d1 80 88 b3 50 4a 52 72 d1
		40 db 78 df f8 ad f5 44 6b b3 56 9d 47 a0 01 11
		67 a1 94 a4 10 68 74 6b b3 56 8d cb 00 ff 04 c1
		41 0e 80 30 08 04 c0 2f 95 c2 42 37 1e b1 f4 19
		c6 98 18 8f 1e fc 7f 9c a1 36 d0 dd e7 f9 95 98
		41 87 19 e9 9d cb 0c 3a d0 3b 23 34 e7 f5 d4 fe
		1e b8 31 1a 02 2e 52 02 32 73 fb 05 90 42 79 8a
		ad 91 85 89 49 85 a1 a9 a9 05 40 00 01 00 00 00
		ff ff`},
}

// The two blocks of §9, one direction, in order.
const (
	ctxV3Block1 = `
		38 ea e3 c6 a7 c2 02 65 25 50 7a b4 42 a4 5a 77
		d7 10 90 a8 55 41 22 b8 6c 62 d4 07 25 52 2b ec
		09 96 d5 0a 5a 90 70 a7 56 24 82 22 44 2f 19 5c
		be b0 5b 15 03 4b ce 5c 70 f1 9a 51 52 52 50 0c
		00 00 00 ff ff`
	ctxV3Block2 = `
		22 6c 0f 97 7e 71 49 25 c8 80 e2 62 6a 58 08 00
		00 00 ff ff`
)
