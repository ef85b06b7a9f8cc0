'use strict'

// A SPDY peer built on spdy-transport's own connection and stream API (not
// node-spdy's HTTP emulation), for the interop tests in ../nodetransport.
//
//   node peer.js server [--auto-spdy31]
//     Listens on 127.0.0.1 at a port the OS chooses and serves every
//     connection it accepts. The first line on stdout is
//     {"event":"listening","port":N}.
//
//   node peer.js client --port N --version 2|3|3.1 [--size BYTES]
//     Connects to 127.0.0.1:N, speaks the given version from the first
//     frame (plain TCP has no negotiation), runs a fixed scenario and
//     prints its findings as {"event":"result",...}, then ends the session
//     with GOAWAY and exits.
//
// Every line on stdout is one JSON object (an "event"), so that the Go side
// can check what this peer saw on the wire. Both modes exit on their own
// after a bounded time.

const crypto = require('crypto')
const net = require('net')
const transport = require('spdy-transport')
const { emit, sha256, args, readAll, writeAll, exitOnStdinEnd } = require('./common')

const LIFETIME_MS = 120 * 1000

// watch reports the connection-level frames and errors the tests check.
function watch (conn, role) {
  conn.on('frame', function (f) {
    switch (f.type) {
      case 'RST':
        emit({ event: 'rst', role: role, id: f.id, code: f.code })
        break
      case 'GOAWAY':
        emit({ event: 'goaway', role: role, lastId: f.lastId, code: f.code })
        break
      case 'SETTINGS':
        emit({ event: 'settings', role: role, settings: f.settings })
        break
      case 'WINDOW_UPDATE':
        if (f.id === 0) emit({ event: 'session-window', role: role, delta: f.delta })
        break
      case 'PING':
        emit({ event: 'ping', role: role, ack: f.ack, id: f.opaque.readUInt32BE(0) })
        break
    }
  })
  conn.on('version', function (v) {
    emit({ event: 'version', role: role, version: v })
  })
  conn.on('error', function (err) {
    emit({ event: 'error', role: role, message: String(err && err.message) })
  })
  conn.on('close', function (err) {
    emit({ event: 'close', role: role, error: err ? String(err.message) : null })
  })
}

// ---- server ----------------------------------------------------------------

function serve (conn, stream) {
  const h = stream.headers
  const path = stream.path
  emit({ event: 'stream', id: stream.id, method: stream.method, path: path, host: stream.host, headers: h })
  stream.on('error', function (err) {
    emit({ event: 'stream-error', id: stream.id, message: String(err.message) })
  })
  stream.on('close', function (err) {
    emit({ event: 'stream-close', id: stream.id, error: err ? String(err.message) : null })
  })

  if (path === '/echo') {
    // Echo the body back as it arrives, then trailers, then FIN.
    const hash = crypto.createHash('sha256')
    let n = 0
    stream.respond(200, {
      'x-echo-test': h['x-test'] || '',
      'x-seen-method': stream.method,
      'x-seen-multi': h['x-multi'] || '',
      'set-cookie': ['a=1', 'b=2']
    })
    stream.on('data', function (c) {
      hash.update(c)
      n += c.length
      if (!stream.write(c)) {
        stream.pause()
        stream.once('drain', function () { stream.resume() })
      }
    })
    stream.on('end', function () {
      emit({ event: 'echoed', id: stream.id, bytes: n, sha256: hash.digest('hex') })
      stream.sendHeaders({ 'x-trailer': 'done' })
      stream.end()
    })
    return
  }

  if (path === '/download') {
    // Send a body of the requested size after the reply: flow control of
    // the server-to-client direction.
    const size = parseInt(h['x-size'] || '0', 10)
    const body = crypto.randomBytes(size)
    stream.respond(200, { 'x-sha256': sha256(body) })
    stream.resume() // drop any request body
    writeAll(stream, body, 64 * 1024, function () { stream.end() })
    return
  }

  if (path === '/reset') {
    // Reply, then reset the stream with INTERNAL_ERROR.
    stream.respond(200, {}, function () {
      stream.write('partial', function () { stream.abort('INTERNAL_ERROR') })
    })
    return
  }

  if (path === '/hold') {
    // Reply and send a little, then wait for the peer to reset the stream.
    stream.respond(200, {}, function () { stream.write('held') })
    stream.resume()
    return
  }

  if (path === '/ping') {
    // Ping the peer and reply once its answer came back.
    conn.ping(function (err) {
      stream.respond(200, { 'x-ping': err ? 'error' : 'pong' })
      stream.end()
    })
    stream.resume()
    return
  }

  if (path === '/push') {
    // Push a resource associated with this request, then answer it.
    // A body larger than the initial window, so that it is still being
    // sent when the client has seen the push.
    const pushed = crypto.randomBytes(parseInt(h['x-size'] || '0', 10))
    stream.pushPromise({
      path: '/pushed.txt',
      method: 'GET',
      host: stream.host || '127.0.0.1',
      status: 200,
      request: { accept: '*/*' },
      response: { 'content-type': 'application/octet-stream', 'x-pushed': 'yes', 'x-sha256': sha256(pushed) }
    }, function (err, push) {
      if (err) {
        emit({ event: 'push-error', message: String(err.message) })
        stream.respond(500, {})
        stream.end()
        return
      }
      push.on('error', function (e) {
        emit({ event: 'push-stream-error', id: push.id, message: String(e.message) })
      })
      push.end(pushed)
      stream.respond(200, { 'x-pushed-id': String(push.id) })
      stream.end('parent body')
    })
    stream.resume()
    return
  }

  stream.respond(404, {})
  stream.resume()
  stream.end()
}

function server (opts) {
  const auto31 = !!opts['auto-spdy31']
  const srv = net.createServer(function (socket) {
    const conn = transport.connection.create(socket, {
      protocol: 'spdy',
      isServer: true,
      autoSpdy31: auto31
    })
    watch(conn, 'server')
    conn.on('stream', function (stream) { serve(conn, stream) })
  })
  srv.listen(0, '127.0.0.1', function () {
    emit({ event: 'listening', port: srv.address().port, autoSpdy31: auto31 })
  })
  setTimeout(function () {
    emit({ event: 'lifetime-over' })
    process.exit(3)
  }, LIFETIME_MS).unref()
  exitOnStdinEnd()
}

// ---- client ----------------------------------------------------------------

function client (opts) {
  const port = parseInt(opts.port, 10)
  const version = parseFloat(opts.version)
  const size = parseInt(opts.size || String(1 << 20), 10)
  const result = { event: 'result', version: version }
  const timer = setTimeout(function () {
    result.timeout = true
    emit(result)
    process.exit(3)
  }, LIFETIME_MS)

  const socket = net.connect(port, '127.0.0.1')
  const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: false })
  watch(conn, 'client')
  conn.start(version)

  // request opens a stream and calls done({status, headers, body, trailers,
  // error}) when it ends.
  function request (path, method, headers, body, done, onStream) {
    const r = { trailers: null, error: null }
    const stream = conn.request({
      method: method,
      path: path,
      host: '127.0.0.1',
      headers: headers
    }, function (err) {
      if (err) r.error = String(err.message)
    })
    r.id = stream.id
    let finished = false
    function finish () {
      if (finished) return
      finished = true
      done(r)
    }
    stream.on('response', function (status, h) {
      r.status = status
      r.headers = h
    })
    stream.on('headers', function (h) { r.trailers = h })
    stream.on('error', function (err) {
      r.error = String(err.message)
    })
    // 'close' may come first, from within the 'end' that completes the
    // body: finish a turn later.
    stream.on('close', function () { setImmediate(finish) })
    readAll(stream, function (buf) {
      r.bodyBytes = buf.length
      r.bodySha256 = sha256(buf)
      r.bodyText = buf.length <= 64 ? buf.toString() : undefined
    })
    if (onStream) onStream(stream, r)
    if (body !== null) {
      writeAll(stream, body, 16 * 1024, function () { stream.end() })
    }
    return stream
  }

  const steps = []

  // 1. One large echo: flow control in both directions, trailers.
  steps.push(function (next) {
    const body = crypto.randomBytes(size)
    result.echo = { sentBytes: body.length, sentSha256: sha256(body) }
    request('/echo', 'POST', { 'x-test': 'from-node', 'set-cookie': ['c=1', 'd=2'] }, body, function (r) {
      Object.assign(result.echo, r)
      next()
    })
  })

  // 2. Concurrent echoes on several streams.
  steps.push(function (next) {
    const n = 4
    let left = n
    result.concurrent = []
    for (let i = 0; i < n; i++) {
      const body = crypto.randomBytes(size / 4)
      const entry = { sentBytes: body.length, sentSha256: sha256(body) }
      result.concurrent.push(entry)
      request('/echo', 'PUT', { 'x-test': 'concurrent-' + i }, body, function (r) {
        Object.assign(entry, r)
        if (--left === 0) next()
      })
    }
  })

  // 3. PING from this side.
  steps.push(function (next) {
    conn.ping(function (err) {
      result.ping = err ? String(err.message) : 'pong'
      next()
    })
  })

  // 4. The server pings us before it replies.
  steps.push(function (next) {
    request('/ping', 'GET', {}, null, function (r) {
      result.serverPing = r
      next()
    })
  })

  // 5. The server resets a stream after replying.
  steps.push(function (next) {
    request('/reset', 'GET', {}, null, function (r) {
      result.reset = r
      next()
    })
  })

  // 6. We reset a stream the server holds open.
  steps.push(function (next) {
    request('/hold', 'POST', {}, null, function (r) {
      result.hold = r
      next()
    }, function (stream, r) {
      stream.once('data', function (c) {
        r.firstData = c.toString()
        stream.abort('CANCEL')
      })
    })
  })

  // 7. Server push.
  steps.push(function (next) {
    result.push = { promises: [] }
    let pending = 2
    function done () { if (--pending === 0) next() }
    request('/push', 'GET', {}, null, function (r) {
      Object.assign(result.push, { parent: r })
      done()
    }, function (stream) {
      stream.on('pushPromise', function (push) {
        const p = { id: push.id, path: push.path, headers: push.headers }
        result.push.promises.push(p)
        push.on('response', function (status, h) {
          p.status = status
          p.responseHeaders = h
        })
        push.on('error', function (err) { p.error = String(err.message) })
        readAll(push, function (buf) {
          p.bodyBytes = buf.length
          p.bodySha256 = sha256(buf)
          done()
        })
      })
    })
  })

  // 8. Graceful shutdown: the server sends GOAWAY while this stream is
  // open; on it we finish our side, and the server sends its body after.
  // It comes last: no stream may be opened after a GOAWAY.
  steps.push(function (next) {
    draining = true
    request('/drain', 'POST', {}, null, function (r) {
      result.drain = r
      next()
    }, function (stream, r) {
      conn.on('frame', function (f) {
        if (f.type === 'GOAWAY' && r.goaway === undefined) {
          r.goaway = f.code
          r.goawayLastId = f.lastId
          stream.end('go')
        }
      })
    })
  })

  let draining = false
  function run (i) {
    if (i === steps.length) {
      result.done = true
      emit(result)
      conn.end(function () {
        clearTimeout(timer)
        socket.destroy()
      })
      return
    }
    steps[i](function () { run(i + 1) })
  }
  run(0) // frames wait in the framer until the version is set
  conn.on('close', function () {
    // After the server's GOAWAY the connection closes as soon as the last
    // stream ends, before the scenario reports.
    if (!result.done && !draining) {
      result.closedEarly = true
      emit(result)
    }
    clearTimeout(timer)
  })
}

const opts = args(process.argv.slice(2))
if (opts._[0] === 'server') {
  server(opts)
} else if (opts._[0] === 'client') {
  client(opts)
} else {
  process.stderr.write('usage: node peer.js server [--auto-spdy31] | client --port N --version V [--size N]\n')
  process.exit(2)
}
