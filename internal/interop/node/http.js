'use strict'

// HTTP peers on node's spdy 4.0.2 (its HTTP server and its agent, that is
// node-spdy's HTTP emulation over spdy-transport), for the interop tests in
// ../nodehttp.
//
//   node http.js server --protocol spdy/2|spdy/3|spdy/3.1
//                       [--cert FILE --key FILE] [--unpatched]
//     Without --cert: spdy.createServer({spdy: {plain: true, ssl: false}})
//     on plain TCP (prior knowledge; the version comes from the client's
//     first frame). With --cert: TLS whose ALPN offers only --protocol.
//     Listens on 127.0.0.1 at a port the OS chooses; the first line on
//     stdout is {"event":"listening","port":N}. Exits when stdin ends.
//
//   node http.js client --port N --protocol P [--ca FILE] [--unpatched]
//                       [--steps a,b,...]
//     An agent (spdy.createAgent) on one session to 127.0.0.1:N, plain
//     (spdy: {plain: true, ssl: false, protocol: P}) or, with --ca, TLS with
//     ALPN offering only P. Runs the steps in order, prints one
//     {"event":"step","name":...} per step, then {"event":"done"}, ends the
//     session with GOAWAY and exits.
//
//   node http.js upload --port N --protocol P [--ca FILE] [--unpatched]
//                       [--size BYTES] [--tries N]
//     Uploads through the agent --tries times in a row (each on a new
//     session) and prints one {"event":"upload",...} per try: the
//     scenario of TestNodeQuirkEmulationWrites.
//
// The HTTP emulation and node-spdy#369. node-spdy gives node's http
// module a net.Socket whose handle is a handle-thing Handle writing into
// a spdy-transport stream. Since Node 12, net.Socket decides after each
// handle write whether the write completes later (and how many bytes it
// wrote) by reading a process-wide slot, streamBaseState[kLastWriteWasAsync]
// (and [kBytesWritten]), that native handles fill in; handle-thing never
// fills it, so the slot holds whatever the last real socket write left
// there. When that write was synchronous, node runs the write's callback
// at once, and handle-thing runs it a second time when the stream has
// taken the data; node then destroys the socket, and the request fails
// ("socket hang up") or the response is cut and its stream reset.
// Unless --unpatched is given, patchEmulation below fills the slot after
// every Handle write, which is all the uploads and responses here need
// (TestNodeQuirkEmulationWrites shows the failure without it). It also
// replaces handle-thing's writev, which with all-Buffer chunks takes every
// second chunk for an encoding (dropping it) and never completes, although
// no scenario here reaches it. Nothing else changes: the HTTP semantics,
// framing and flow control stay node-spdy's and spdy-transport's own.
//
// Pushes over plain TCP. spdy-transport labels every push :scheme https
// (scheme in SPDY/2), whatever the connection, and node-spdy's res.push
// offers no way to say otherwise. The server's /push?scheme=http labels
// its push http through a wrapper of spdy-transport's pushFrame
// (pushSchemeFor); without the parameter the push goes out as node sends
// it (TestNodeQuirkPlainPushSchemeHTTPS).

const crypto = require('crypto')
const fs = require('fs')
const http = require('http')
const https = require('https')
const spdy = require('spdy')
const { emit, sha256, args, readAll, writeAll, exitOnStdinEnd } = require('./common')

const LIFETIME_MS = 150 * 1000

process.noDeprecation = true // node-spdy uses process.binding

function patchEmulation () {
  const sw = process.binding('stream_wrap')
  const Handle = require('handle-thing')
  const writeEnc = Handle.prototype.writeEnc
  // Every write of a Handle completes later, through req.oncomplete: say
  // so where Node >= 12 looks, as native handles do.
  Handle.prototype.writeEnc = function (req, data, enc) {
    const ret = writeEnc.call(this, req, data, enc)
    sw.streamBaseState[sw.kLastWriteWasAsync] = 1
    sw.streamBaseState[sw.kBytesWritten] =
      typeof data === 'string' ? Buffer.byteLength(data, enc || 'utf8') : data.length
    return ret
  }
  // chunks is [buf, buf, ...] when allBuffers, else [chunk, encoding, ...].
  Handle.prototype.writev = function (req, chunks, allBuffers) {
    const bufs = []
    if (allBuffers) {
      for (let i = 0; i < chunks.length; i++) bufs.push(chunks[i])
    } else {
      for (let i = 0; i < chunks.length; i += 2) {
        const c = chunks[i]
        bufs.push(typeof c === 'string' ? Buffer.from(c, chunks[i + 1]) : c)
      }
    }
    return this.writeEnc(req, Buffer.concat(bufs), null)
  }
}

// rangeBody is the resource of /range: byte i is i % 251, which the Go
// side computes too.
const RANGE_SIZE = 1 << 20
function rangeBody () {
  const b = Buffer.alloc(RANGE_SIZE)
  for (let i = 0; i < b.length; i++) b[i] = i % 251
  return b
}

// ---- server ----------------------------------------------------------------

// nextPushScheme, when set, is the :scheme of the push that res.push is
// about to send (spdy-transport would say https).
let nextPushScheme = null

function pushSchemeFor () {
  const Framer = require('spdy-transport').protocol.spdy.framer
  const pushFrame = Framer.prototype.pushFrame
  Framer.prototype.pushFrame = function (frame, callback) {
    if (nextPushScheme) frame = Object.assign({}, frame, { scheme: nextPushScheme })
    return pushFrame.call(this, frame, callback)
  }
}

function server (o) {
  pushSchemeFor()
  const proto = o.protocol
  const opts = { spdy: { protocols: [proto] } }
  if (o.cert) {
    opts.cert = fs.readFileSync(o.cert)
    opts.key = fs.readFileSync(o.key)
  } else {
    opts.spdy.plain = true
    opts.spdy.ssl = false
    // In plain TCP node learns the version from the first frame, which
    // says 3 for SPDY/3 and SPDY/3.1 alike; autoSpdy31 makes it speak 3.1
    // to a client that sends a session WINDOW_UPDATE (without it, it
    // never returns session credit and uploads stall at 64 KiB).
    if (proto === 'spdy/3.1') opts.spdy.connection = { autoSpdy31: true }
  }
  const ranged = rangeBody()
  const big = new Map() // size -> {body, sha}

  const watched = new WeakSet()
  const srv = spdy.createServer(opts, function (req, res) {
    const u = new URL(req.url, 'http://x')
    const path = u.pathname
    const conn = req.spdyStream.connection
    if (!watched.has(conn)) {
      // The resets the client sends, which the tests check.
      watched.add(conn)
      conn.on('frame', function (f) {
        if (f.type === 'RST') emit({ event: 'rst', id: f.id, code: f.code })
      })
    }
    req.on('error', function (err) {
      // node-spdy's requests emit 'aborted' when their stream closes, also
      // after a complete response: only an error before it counts.
      if (!res.writableEnded) emit({ event: 'req-error', path: path, message: String(err.message) })
    })
    res.on('error', function (err) {
      emit({ event: 'res-error', path: path, message: String(err.message) })
    })

    if (path === '/small') {
      emit({ event: 'request', path: path, method: req.method, headers: req.headers, isSpdy: req.isSpdy, spdyVersion: req.spdyVersion })
      const h = { 'content-type': 'text/plain', 'x-spdy-version': String(req.spdyVersion) }
      if (req.headers['x-multi'] !== undefined) h['x-seen-multi'] = req.headers['x-multi']
      res.writeHead(200, h)
      res.end('hello from node spdy\n')
      return
    }

    if (path === '/empty') {
      // A header with an empty value, which node sends as it is in every
      // version (SPDY/2 forbids empty values; SPDY/3 allows them).
      res.writeHead(200, { 'content-type': 'text/plain', 'x-empty': '' })
      res.end('empty')
      return
    }

    if (path.startsWith('/n/')) {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('n=' + path.slice(3))
      return
    }

    if (path === '/big') {
      // The body in 64 KiB res.write calls, as a streaming handler writes.
      const size = parseInt(u.searchParams.get('size') || '0', 10)
      let b = big.get(size)
      if (!b) {
        const body = crypto.randomBytes(size)
        b = { body: body, sha: sha256(body) }
        big.set(size, b)
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(size),
        'x-sha256': b.sha
      })
      writeAll(res, b.body, 64 * 1024, function () { res.end() })
      return
    }

    if (path === '/echo') {
      // The request body back as it arrives.
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      const hash = crypto.createHash('sha256')
      let n = 0
      req.on('data', function (c) {
        hash.update(c)
        n += c.length
        if (!res.write(c)) {
          req.pause()
          res.once('drain', function () { req.resume() })
        }
      })
      req.on('end', function () {
        emit({ event: 'echoed', bytes: n, sha256: hash.digest('hex') })
        res.end()
      })
      return
    }

    if (path === '/range') {
      serveRange(req, res, ranged)
      return
    }

    if (path === '/cookies') {
      res.setHeader('content-type', 'text/plain')
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/'])
      if (req.headers['x-multi'] !== undefined) res.setHeader('x-seen-multi', req.headers['x-multi'])
      res.end('cookies')
      return
    }

    if (path === '/push') {
      // res.push returns spdy-transport's push stream itself. node-spdy
      // and spdy-transport label every push :scheme https, also on plain
      // TCP, and offer no way to say otherwise; with ?scheme=http the
      // patched pushFrame (see pushSchemeFor) labels this one http.
      const size = parseInt(u.searchParams.get('size') || '0', 10)
      const pushed = crypto.randomBytes(size)
      nextPushScheme = u.searchParams.get('scheme')
      let ps
      try {
        ps = res.push('/pushed.js', {
          request: { accept: '*/*' },
          response: { 'content-type': 'application/javascript', 'x-sha256': sha256(pushed) }
        })
      } finally {
        nextPushScheme = null
      }
      emit({ event: 'pushed', id: ps.id, parent: req.spdyStream.id })
      ps.on('error', function (err) {
        emit({ event: 'push-error', id: ps.id, message: String(err.message) })
      })
      ps.end(pushed)
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<script src="/pushed.js"></script>')
      return
    }

    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found')
  })
  srv.on('error', function (err) {
    emit({ event: 'server-error', message: String(err.message) })
  })
  srv.on('tlsClientError', function (err) {
    emit({ event: 'tls-error', message: String(err.message) })
  })
  srv.listen(0, '127.0.0.1', function () {
    emit({ event: 'listening', port: srv.address().port })
  })
  setTimeout(function () {
    emit({ event: 'lifetime' })
    process.exit(1)
  }, LIFETIME_MS).unref()
  exitOnStdinEnd()
}

// serveRange answers one single-range Range request (bytes=a-b, a-, -n)
// over body, as RFC 7233 says.
function serveRange (req, res, body) {
  const total = body.length
  const h = req.headers.range
  const base = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' }
  if (!h) {
    base['content-length'] = String(total)
    res.writeHead(200, base)
    res.end(body)
    return
  }
  const m = /^bytes=(\d*)-(\d*)$/.exec(h)
  let start, end
  if (m && m[1] !== '') {
    start = parseInt(m[1], 10)
    end = m[2] === '' ? total - 1 : Math.min(parseInt(m[2], 10), total - 1)
  } else if (m && m[2] !== '') {
    start = Math.max(total - parseInt(m[2], 10), 0)
    end = total - 1
  }
  if (start === undefined || start > end || start >= total) {
    base['content-range'] = 'bytes */' + total
    res.writeHead(416, base)
    res.end()
    return
  }
  base['content-range'] = 'bytes ' + start + '-' + end + '/' + total
  base['content-length'] = String(end - start + 1)
  res.writeHead(206, base)
  res.end(body.slice(start, end + 1))
}

// ---- client ----------------------------------------------------------------

function newAgent (o) {
  const port = parseInt(o.port, 10)
  const proto = o.protocol
  if (o.ca) {
    const ca = fs.readFileSync(o.ca)
    return {
      mod: https,
      port: port,
      ca: ca,
      agent: spdy.createAgent({
        host: '127.0.0.1',
        port: port,
        ca: ca,
        servername: 'localhost',
        spdy: { protocols: [proto] }
      })
    }
  }
  return {
    mod: http,
    port: port,
    agent: spdy.createAgent({
      host: '127.0.0.1',
      port: port,
      spdy: { plain: true, ssl: false, protocol: proto }
    })
  }
}

// request sends one request through the agent and calls done(result)
// once, with the status, headers and body of the response or the error.
function request (c, method, path, headers, body, done, onReq) {
  const r = { method: method, path: path }
  let finished = false
  function finish () {
    if (finished) return
    finished = true
    done(r)
  }
  const req = c.mod.request({
    method: method,
    host: '127.0.0.1',
    port: c.port,
    path: path,
    headers: headers || {},
    agent: c.agent,
    ca: c.ca,
    servername: 'localhost'
  }, function (res) {
    r.status = res.statusCode
    r.headers = res.headers
    r.rawHeaders = res.rawHeaders
    res.on('error', function (err) {
      r.error = String(err.message)
      finish()
    })
    readAll(res, function (buf) {
      r.bytes = buf.length
      r.sha256 = sha256(buf)
      r.body = buf.length <= 4096 ? buf.toString('latin1') : undefined
      finish()
    })
  })
  req.on('error', function (err) {
    r.error = String(err.message)
    finish()
  })
  if (onReq) onReq(req, r)
  if (body) {
    writeAll(req, body, 64 * 1024, function () { req.end() })
  } else {
    req.end()
  }
}

function client (o) {
  const c = newAgent(o)
  c.agent.on('error', function (err) {
    emit({ event: 'agent-error', message: String(err.message) })
  })
  const want = (o.steps || 'small,big,upload,upload-transport,concurrent,range,cookies,push,ping').split(',')
  const all = {}

  all.small = function (next) {
    // A multi-valued request header: spdy-transport joins the values with
    // NUL on the wire.
    request(c, 'GET', '/small', { 'x-multi': ['a', 'b'] }, null, next)
  }

  all.big = function (next) {
    request(c, 'GET', '/big?size=' + (10 << 20), null, null, next)
  }

  all.upload = function (next) {
    // An upload through node's http module and the agent: the emulation's
    // write path, patched unless --unpatched.
    const body = crypto.randomBytes(5 << 20)
    request(c, 'POST', '/echo', { 'content-type': 'application/octet-stream' }, body, function (r) {
      r.sentBytes = body.length
      r.sentSha256 = sha256(body)
      next(r)
    })
  }

  all['upload-transport'] = function (next) {
    // The same upload through spdy-transport's own client stream API, on
    // the agent's session: connection.request, stream.write, stream.end.
    const body = crypto.randomBytes(5 << 20)
    const r = { method: 'POST', path: '/echo', sentBytes: body.length, sentSha256: sha256(body) }
    let finished = false
    function finish () {
      if (!finished) {
        finished = true
        next(r)
      }
    }
    withConnection(c, function (conn) {
      conn.request({
        method: 'POST',
        path: '/echo',
        host: '127.0.0.1',
        headers: { 'content-type': 'application/octet-stream' }
      }, function (err, stream) {
        if (err) {
          r.error = String(err.message)
          return finish()
        }
        stream.on('error', function (err) {
          r.error = String(err.message)
          finish()
        })
        stream.on('response', function (status, headers) {
          r.status = status
          r.headers = headers
        })
        readAll(stream, function (buf) {
          r.bytes = buf.length
          r.sha256 = sha256(buf)
          finish()
        })
        writeAll(stream, body, 64 * 1024, function () { stream.end() })
      })
    })
  }

  all.concurrent = function (next) {
    // 100 requests at once on the agent's one session.
    const n = 100
    const r = { ok: 0, failures: [] }
    let left = n
    for (let i = 0; i < n; i++) {
      request(c, 'GET', '/n/' + i, null, null, function (x) {
        if (x.status === 200 && x.body === 'n=' + i) {
          r.ok++
        } else if (r.failures.length < 5) {
          r.failures.push({ i: i, status: x.status, body: x.body, error: x.error })
        }
        if (--left === 0) next(r)
      })
    }
  }

  all.range = function (next) {
    const body = rangeBody()
    const cases = [
      { range: 'bytes=1000-1999', start: 1000, end: 1999 },
      { range: 'bytes=-500', start: body.length - 500, end: body.length - 1 },
      { range: 'bytes=' + (body.length - 10) + '-', start: body.length - 10, end: body.length - 1 },
      { range: 'bytes=' + body.length + '-', unsatisfiable: true }
    ]
    const r = { cases: [] }
    function one (i) {
      if (i === cases.length) return next(r)
      const k = cases[i]
      request(c, 'GET', '/range', { range: k.range }, null, function (x) {
        const out = { range: k.range, status: x.status, contentRange: x.headers && x.headers['content-range'], error: x.error }
        if (!k.unsatisfiable) {
          out.want = 'bytes ' + k.start + '-' + k.end + '/' + body.length
          out.bodyOK = x.sha256 === sha256(body.slice(k.start, k.end + 1))
        }
        r.cases.push(out)
        one(i + 1)
      })
    }
    one(0)
  }

  all.cookies = function (next) {
    request(c, 'GET', '/cookies', { 'x-multi': ['a', 'b'] }, null, next)
  }

  all.push = function (next) {
    // The agent's request emits 'push' with spdy-transport's push stream.
    // A server sends the push's SYN_STREAM before the reply to its
    // request, so a push that has not begun when the response has ended
    // is missing; one that has begun is waited for.
    let main = null
    let started = false
    let pushed = null
    let reported = false
    function maybe () {
      if (!reported && main && (pushed || !started)) {
        reported = true
        main.push = pushed || { missing: true }
        next(main)
      }
    }
    request(c, 'GET', '/push?size=' + (256 << 10), null, null, function (r) {
      main = r
      maybe()
    }, function (req) {
      req.on('push', function (ps) {
        started = true
        const p = { path: ps.path, method: ps.method, host: ps.host, headers: ps.headers }
        ps.on('error', function (err) {
          p.error = String(err.message)
          pushed = p
          maybe()
        })
        readAll(ps, function (buf) {
          p.bytes = buf.length
          p.sha256 = sha256(buf)
          pushed = p
          maybe()
        })
      })
    })
  }

  all.ping = function (next) {
    withConnection(c, function (conn) {
      conn.ping(function (err) {
        next({ pong: !err, error: err ? String(err.message) : undefined })
      })
    })
  }

  const timer = setTimeout(function () {
    emit({ event: 'lifetime' })
    process.exit(1)
  }, LIFETIME_MS)

  function run (i) {
    if (i === want.length) {
      emit({ event: 'done' })
      withConnection(c, function (conn) {
        conn.end(function () {
          clearTimeout(timer)
          process.exit(0)
        })
      })
      return
    }
    const name = want[i]
    if (!all[name]) {
      emit({ event: 'step', name: name, error: 'no such step' })
      return run(i + 1)
    }
    all[name](function (r) {
      r.event = 'step'
      r.name = name
      emit(r)
      run(i + 1)
    })
  }
  run(0)
}

// withConnection calls fn with the agent's spdy-transport connection once
// it is connected.
function withConnection (c, fn) {
  const st = c.agent._spdyState
  if (st.connection) return fn(st.connection)
  c.agent.once('_connect', function () { fn(st.connection) })
}

// upload runs the agent upload of /echo --tries times, each on a session
// of its own, and reports each.
function upload (o) {
  const tries = parseInt(o.tries || '1', 10)
  const size = parseInt(o.size || String(5 << 20), 10)
  const timer = setTimeout(function () {
    emit({ event: 'lifetime' })
    process.exit(1)
  }, LIFETIME_MS)
  function one (i) {
    if (i === tries) {
      emit({ event: 'done' })
      clearTimeout(timer)
      process.exit(0)
    }
    const c = newAgent(o)
    c.agent.on('error', function (err) {
      emit({ event: 'agent-error', message: String(err.message) })
    })
    const body = crypto.randomBytes(size)
    // A request that hangs (a write that never completes) is reported
    // after a bound.
    let reported = false
    const hang = setTimeout(function () {
      report({ hung: true })
    }, 20000)
    function report (r) {
      if (reported) return
      reported = true
      clearTimeout(hang)
      r.event = 'upload'
      r.try = i
      r.sentBytes = body.length
      r.sentSha256 = sha256(body)
      emit(r)
      c.agent._spdyState.socket.destroy()
      one(i + 1)
    }
    request(c, 'POST', '/echo', { 'content-type': 'application/octet-stream' }, body, report)
  }
  one(0)
}

const opts = args(process.argv.slice(2))
if (!opts.unpatched) patchEmulation()
if (opts._[0] === 'server') {
  server(opts)
} else if (opts._[0] === 'client') {
  client(opts)
} else if (opts._[0] === 'upload') {
  upload(opts)
} else {
  process.stderr.write('usage: node http.js server|client|upload --protocol P [options]\n')
  process.exit(2)
}
