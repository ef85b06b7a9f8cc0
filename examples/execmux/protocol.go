package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spdygo/spdy/framing"
	"github.com/spdygo/spdy/hpackz"
	"github.com/spdygo/spdy/session"
	"github.com/spdygo/spdy/stream"
)

// The stream types, named by the streamtype header of every stream.
const (
	typeError  = "error"
	typeStdin  = "stdin"
	typeStdout = "stdout"
	typeStderr = "stderr"
	typeResize = "resize"
)

// dataTypes are the stream types an error stream may announce.
var dataTypes = []string{typeStdin, typeStdout, typeStderr, typeResize}

// Size is a terminal size, sent on the resize stream as one JSON object
// per change.
type Size struct {
	Width  uint16 `json:"width"`
	Height uint16 `json:"height"`
}

// Status is what the server sends on the error stream when the command
// has ended.
type Status struct {
	ExitCode int    `json:"exitCode"`
	Message  string `json:"message,omitempty"` // why the command did not run
}

// ExitError is the error of an Exec whose command exited with a non-zero
// status or could not run.
type ExitError struct{ Status }

func (e *ExitError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("exit status %d: %s", e.ExitCode, e.Message)
	}
	return fmt.Sprintf("exit status %d", e.ExitCode)
}

// header returns the value of the header name, or "".
func header(fields []hpackz.Field, name string) string {
	for _, f := range fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Request is one command to run through Exec. Nil streams are not opened:
// the command then reads an empty stdin, its output is discarded, and it
// gets no resize.
type Request struct {
	Command        []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Resize         <-chan Size // closing it ends the resize stream
}

// Exec runs r.Command on the server at the other end of s and returns
// once the command has ended and its output has been copied: nil for exit
// status 0, an *ExitError for another. id names the request and must be
// unique among the requests under way on s. Canceling ctx resets the
// streams, which ends the command.
//
// Exec does not wait for a Read of r.Stdin that is blocked: the goroutine
// copying it ends when that Read returns.
func Exec(ctx context.Context, s *session.Session, id string, r Request) error {
	if len(r.Command) == 0 {
		return errors.New("execmux: no command")
	}
	argv, err := json.Marshal(r.Command)
	if err != nil {
		return err
	}
	var announce []string
	for i, on := range []bool{r.Stdin != nil, r.Stdout != nil, r.Stderr != nil, r.Resize != nil} {
		if on {
			announce = append(announce, dataTypes[i])
		}
	}

	// The error stream first, with the command; then the others. Streams
	// this side never writes to are opened with FIN.
	streams := map[string]*stream.Stream{}
	defer func() {
		for _, st := range streams {
			st.Close()
		}
	}()
	open := func(typ string, fin bool, extra ...hpackz.Field) error {
		fields := append([]hpackz.Field{{Name: "streamtype", Value: typ}, {Name: "requestid", Value: id}}, extra...)
		st, err := s.Open(ctx, &session.OpenOptions{Headers: fields, Fin: fin})
		if err != nil {
			for _, st := range streams { // the request will never be complete
				st.Reset(framing.StatusCancel)
			}
			return err
		}
		streams[typ] = st
		return nil
	}
	extra := []hpackz.Field{{Name: "command", Value: string(argv)}}
	if len(announce) > 0 { // SPDY/2 forbids empty values
		extra = append(extra, hpackz.Field{Name: "streams", Value: strings.Join(announce, ",")})
	}
	if err := open(typeError, true, extra...); err != nil {
		return err
	}
	for _, typ := range announce {
		if err := open(typ, typ == typeStdout || typ == typeStderr); err != nil {
			return err
		}
	}
	stop := context.AfterFunc(ctx, func() {
		for _, st := range streams {
			st.Reset(framing.StatusCancel)
		}
	})
	defer stop()

	done := make(chan struct{})
	defer close(done)
	if st := streams[typeStdin]; st != nil {
		go func() {
			if _, err := io.Copy(st, r.Stdin); err != nil {
				st.Reset(framing.StatusCancel) // the command fails reading
			} else {
				st.CloseWrite() // the command reads EOF
			}
		}()
	}
	if st := streams[typeResize]; st != nil {
		go sendSizes(st, r.Resize, done)
	}
	var copies sync.WaitGroup
	copyErrs := make([]error, 2)
	for i, out := range []struct {
		st *stream.Stream
		w  io.Writer
	}{{streams[typeStdout], r.Stdout}, {streams[typeStderr], r.Stderr}} {
		if out.st != nil {
			copies.Go(func() {
				if _, copyErrs[i] = io.Copy(out.w, out.st); copyErrs[i] != nil {
					out.st.Reset(framing.StatusCancel) // the command's writes fail
				}
			})
		}
	}

	body, err := io.ReadAll(io.LimitReader(streams[typeError], 64<<10))
	copies.Wait() // the server ends stdout and stderr before the status
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err = errors.Join(err, copyErrs[0], copyErrs[1]); err != nil {
		return err
	}
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("execmux: bad status %q: %w", body, err)
	}
	if st.ExitCode != 0 || st.Message != "" {
		return &ExitError{st}
	}
	return nil
}

// sendSizes writes every size from sizes to st, and FIN once sizes is
// closed. It returns early when done is closed or the stream fails.
func sendSizes(st *stream.Stream, sizes <-chan Size, done <-chan struct{}) {
	enc := json.NewEncoder(st)
	for {
		select {
		case sz, ok := <-sizes:
			if !ok {
				st.CloseWrite()
				return
			}
			if enc.Encode(sz) != nil {
				return
			}
		case <-done:
			return
		}
	}
}

// Server runs the commands that clients request over their sessions.
type Server struct {
	// Commands are the commands clients may run, by name. Default Builtins.
	Commands map[string]Command
	// StreamTimeout bounds the wait for all the streams of a request.
	// Default 30 s.
	StreamTimeout time.Duration
	// Logger receives a record per request and per resize; nil means none.
	Logger *slog.Logger
}

// execution is a request whose streams are arriving or have arrived.
type execution struct {
	id      string
	streams map[string]*stream.Stream
	timer   *time.Timer
}

// ready reports whether the error stream and every stream it announced
// have arrived. A bad announcement is an error.
func (ex *execution) ready() (bool, error) {
	es := ex.streams[typeError]
	if es == nil {
		return false, nil
	}
	ready := true
	if v := header(es.Headers(), "streams"); v != "" {
		for _, typ := range strings.Split(v, ",") {
			if !slices.Contains(dataTypes, typ) {
				return false, fmt.Errorf("unknown stream type %q announced", typ)
			}
			ready = ready && ex.streams[typ] != nil
		}
	}
	return ready, nil
}

func (ex *execution) reset() {
	for _, st := range ex.streams {
		st.Reset(framing.StatusProtocolError)
	}
}

// ServeSession accepts the streams of s, groups them by request, and runs
// each request's command once all its streams have arrived. It returns
// when s has ended and every command it started has returned.
func (srv *Server) ServeSession(s *session.Session) {
	log := srv.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := srv.StreamTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	var mu sync.Mutex
	pending := map[string]*execution{}
	var running sync.WaitGroup
	for {
		st, err := s.Accept(context.Background())
		if err != nil {
			break // the session ended
		}
		typ, id := header(st.Headers(), "streamtype"), header(st.Headers(), "requestid")
		if id == "" || typ != typeError && !slices.Contains(dataTypes, typ) {
			log.Warn("stream refused", "streamtype", typ, "requestid", id)
			st.Reset(framing.StatusProtocolError)
			continue
		}
		mu.Lock()
		ex := pending[id]
		if ex == nil {
			ex = &execution{id: id, streams: map[string]*stream.Stream{}}
			pending[id] = ex
			ex.timer = time.AfterFunc(timeout, func() {
				mu.Lock()
				defer mu.Unlock()
				if pending[id] == ex {
					delete(pending, id)
					log.Warn("request incomplete", "requestid", id)
					ex.reset()
				}
			})
		}
		if ex.streams[typ] != nil {
			mu.Unlock()
			log.Warn("duplicate stream", "streamtype", typ, "requestid", id)
			st.Reset(framing.StatusProtocolError)
			continue
		}
		ex.streams[typ] = st
		ok, err := ex.ready()
		if ok || err != nil {
			ex.timer.Stop()
			delete(pending, id)
		}
		mu.Unlock()
		switch {
		case err != nil:
			log.Warn("bad request", "requestid", id, "err", err)
			ex.reset()
		case ok:
			running.Go(func() { srv.run(ex, log) })
		}
	}
	mu.Lock()
	for id, ex := range pending {
		ex.timer.Stop()
		delete(pending, id)
	}
	mu.Unlock()
	running.Wait()
}

// run runs the command of a complete request, then sends its status.
func (srv *Server) run(ex *execution, log *slog.Logger) {
	errStream := ex.streams[typeError]
	defer func() {
		for _, st := range ex.streams {
			st.Close()
		}
	}()
	var argv []string
	if err := json.Unmarshal([]byte(header(errStream.Headers(), "command")), &argv); err != nil || len(argv) == 0 {
		log.Warn("bad command", "requestid", ex.id)
		json.NewEncoder(errStream).Encode(Status{ExitCode: 127, Message: "no command"})
		return
	}
	log = log.With("requestid", ex.id, "command", argv[0])

	// The command's context ends if the client resets the error stream.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-errStream.Done():
			cancel()
		case <-ctx.Done():
		}
	}()

	cio := IO{Args: argv[1:], Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
	if st := ex.streams[typeStdin]; st != nil {
		cio.Stdin = st
	}
	if st := ex.streams[typeStdout]; st != nil {
		cio.Stdout = st
	}
	if st := ex.streams[typeStderr]; st != nil {
		cio.Stderr = st
	}
	sizes := make(chan Size)
	cio.Resize = sizes
	cmdDone := make(chan struct{})
	if st := ex.streams[typeResize]; st != nil {
		go func() {
			defer close(sizes)
			dec := json.NewDecoder(st)
			for {
				var sz Size
				if err := dec.Decode(&sz); err != nil {
					return // EOF, or a stream closed by the end of the command
				}
				log.Info("resize", "width", sz.Width, "height", sz.Height)
				select {
				case sizes <- sz:
				case <-cmdDone:
				}
			}
		}()
	} else {
		close(sizes)
	}

	status := Status{ExitCode: 127, Message: fmt.Sprintf("unknown command %q", argv[0])}
	commands := srv.Commands
	if commands == nil {
		commands = Builtins
	}
	if cmd := commands[argv[0]]; cmd != nil {
		log.Info("exec", "args", argv[1:])
		status = Status{ExitCode: cmd(ctx, cio)}
	}
	close(cmdDone)
	for _, typ := range []string{typeStdout, typeStderr} {
		if st := ex.streams[typ]; st != nil {
			st.CloseWrite()
		}
	}
	if err := json.NewEncoder(errStream).Encode(status); err != nil {
		log.Info("status not sent", "err", err)
	}
	if status.Message != "" {
		log = log.With("message", status.Message)
	}
	log.Info("exit", "code", status.ExitCode)
	if st := ex.streams[typeResize]; st != nil {
		st.Close()        // ends the decoder, if the client still sends
		for range sizes { // until the decoder has returned
		}
	}
}
