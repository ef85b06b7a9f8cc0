'use strict'

// What the node peers http.js and peer.js share: their output (one JSON
// object per line on stdout), their flags, and stream helpers.

const crypto = require('crypto')

// emit prints obj as one line of JSON on stdout.
function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

// sha256 returns the hex SHA-256 of buf.
function sha256 (buf) {
  return crypto.createHash('sha256').update(buf).digest('hex')
}

// args parses argv: `--name value` and a bare `--name` (true) into
// properties, the other arguments into _.
function args (argv) {
  const out = { _: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith('--')) {
      const name = a.slice(2)
      if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
        out[name] = argv[++i]
      } else {
        out[name] = true
      }
    } else {
      out._.push(a)
    }
  }
  return out
}

// readAll collects a readable stream's data and calls done(buffer).
function readAll (r, done) {
  const chunks = []
  r.on('data', function (c) { chunks.push(c) })
  r.on('end', function () { done(Buffer.concat(chunks)) })
}

// writeAll writes buf to w in pieces, honoring backpressure, then calls
// done.
function writeAll (w, buf, piece, done) {
  let off = 0
  function more () {
    while (off < buf.length) {
      const end = Math.min(off + piece, buf.length)
      const ok = w.write(buf.slice(off, end))
      off = end
      if (!ok) {
        w.once('drain', more)
        return
      }
    }
    done()
  }
  more()
}

// exitOnStdinEnd makes the process exit (0) when stdin ends: the tests
// close stdin (or kill the process) to stop a server.
function exitOnStdinEnd () {
  process.stdin.on('end', function () { process.exit(0) })
  process.stdin.resume()
}

module.exports = { emit, sha256, args, readAll, writeAll, exitOnStdinEnd }
