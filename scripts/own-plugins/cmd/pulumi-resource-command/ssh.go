package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// clientConfig is the SSH client side of one endpoint: key (and/or password) auth. The host key
// is checked only when the connection gives `hostKey`; otherwise any host key is accepted, as
// pulumi-command does (its connection.go, v1.2.1).
func clientConfig(e *endpoint) (*ssh.ClientConfig, error) {
	config := &ssh.ClientConfig{User: e.User, Timeout: time.Duration(e.PerDialTimeout) * time.Second}
	if e.HostKey != "" {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(e.HostKey))
		if err != nil {
			return nil, fmt.Errorf("hostKey: %w", err)
		}
		config.HostKeyCallback = ssh.FixedHostKey(key)
		config.HostKeyAlgorithms = []string{key.Type()}
	} else {
		config.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // as pulumi-command, see above
	}
	if e.PrivateKey != "" {
		var signer ssh.Signer
		var err error
		if e.PrivateKeyPassword != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(e.PrivateKey), []byte(e.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(e.PrivateKey))
		}
		if err != nil {
			return nil, fmt.Errorf("privateKey: %w", err) // x/crypto's message names no key material
		}
		config.Auth = append(config.Auth, ssh.PublicKeys(signer))
	}
	if e.Password != "" {
		password := e.Password
		config.Auth = append(config.Auth, ssh.Password(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			}))
	}
	if len(config.Auth) == 0 {
		return nil, errors.New("the connection has neither privateKey nor password")
	}
	return config, nil
}

func (e *endpoint) address() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// retry calls attempt until it succeeds, or it has failed one time more than `limit` allows
// (pulumi-command's dialErrorLimit: the number of failed dials tolerated; -1 for no limit),
// waiting 1 s, 2 s, 4 s ... (at most 10 s) between attempts.
func retry[T any](ctx context.Context, what string, limit int, status func(string), attempt func() (T, error)) (T, error) {
	delay := time.Second
	for failures := 1; ; failures++ {
		result, err := attempt()
		if err == nil {
			return result, nil
		}
		if limit >= 0 && failures > limit {
			var zero T
			return zero, fmt.Errorf("%s: after %d failed attempts: %w", what, failures, err)
		}
		status(fmt.Sprintf("%s: attempt %d failed (%v), retrying", what, failures, err))
		select {
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// handshake runs the SSH handshake over an open connection, bounded by perDialTimeout.
func handshake(conn net.Conn, e *endpoint, config *ssh.ClientConfig) (*ssh.Client, error) {
	if e.PerDialTimeout > 0 {
		_ = conn.SetDeadline(time.Now().Add(time.Duration(e.PerDialTimeout) * time.Second))
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, e.address(), config)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func dialDirect(ctx context.Context, e *endpoint, config *ssh.ClientConfig) (*ssh.Client, error) {
	d := net.Dialer{Timeout: config.Timeout}
	conn, err := d.DialContext(ctx, "tcp", e.address())
	if err != nil {
		return nil, err
	}
	return handshake(conn, e, config)
}

// dial connects to the target, through its jump host when it has one; each hop is retried
// by its own dialErrorLimit. The returned closer closes the jump host's client too.
func dial(ctx context.Context, e *endpoint, status func(string)) (*ssh.Client, func(), error) {
	config, err := clientConfig(e)
	if err != nil {
		return nil, nil, err
	}
	if e.Proxy == nil {
		client, err := retry(ctx, "dial "+e.address(), e.DialErrorLimit, status, func() (*ssh.Client, error) {
			return dialDirect(ctx, e, config)
		})
		if err != nil {
			return nil, nil, err
		}
		return client, func() { client.Close() }, nil
	}
	proxyConfig, err := clientConfig(e.Proxy)
	if err != nil {
		return nil, nil, fmt.Errorf("proxy: %w", err)
	}
	jump, err := retry(ctx, "dial proxy "+e.Proxy.address(), e.Proxy.DialErrorLimit, status, func() (*ssh.Client, error) {
		return dialDirect(ctx, e.Proxy, proxyConfig)
	})
	if err != nil {
		return nil, nil, err
	}
	client, err := retry(ctx, "dial "+e.address()+" from proxy", e.DialErrorLimit, status, func() (*ssh.Client, error) {
		conn, err := jump.DialContext(ctx, "tcp", e.address())
		if err != nil {
			return nil, err
		}
		return handshake(conn, e, config)
	})
	if err != nil {
		jump.Close()
		return nil, nil, err
	}
	return client, func() { client.Close(); jump.Close() }, nil
}

// run is one command on the remote host.
type run struct {
	endpoint *endpoint
	command  string
	stdin    *string
	env      map[string]string
	// optionalEnv is set when sshd accepts it (AcceptEnv), else left out with a status note,
	// as pulumi-command does with PULUMI_COMMAND_STDOUT/STDERR.
	optionalEnv map[string]string
	status      func(string)
	// logLine gets each line of output as it comes (nil: nothing is logged).
	logStdout, logStderr func(string)
}

type result struct{ stdout, stderr string }

// lineWriter buffers output and hands each complete line on.
type lineWriter struct {
	buf  bytes.Buffer
	all  *bytes.Buffer
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.all.Write(p)
	if w.emit == nil {
		return len(p), nil
	}
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.Reset()
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.emit(strings.TrimSuffix(line, "\n"))
	}
}

func (w *lineWriter) flush() {
	if w.emit != nil && w.buf.Len() > 0 {
		w.emit(w.buf.String())
	}
}

// execute dials, runs the command and collects its output (one trailing newline trimmed, as
// pulumi-command does). A non-zero exit is an error that carries the exit status and stderr.
func (r *run) execute(ctx context.Context) (result, error) {
	client, closeAll, err := dial(ctx, r.endpoint, r.status)
	if err != nil {
		return result{}, err
	}
	defer closeAll()
	session, err := client.NewSession()
	if err != nil {
		return result{}, fmt.Errorf("opening an SSH session: %w", err)
	}
	defer session.Close()
	for k, v := range r.env {
		if err := session.Setenv(k, v); err != nil {
			return result{}, fmt.Errorf("environment %s: the SSH server refused it (it takes only the "+
				"variables its AcceptEnv lists): %w", k, err)
		}
	}
	for k, v := range r.optionalEnv {
		if err := session.Setenv(k, v); err != nil {
			r.status(fmt.Sprintf("%s not set: the SSH server does not accept it (AcceptEnv)", k))
		}
	}
	if r.stdin != nil && *r.stdin != "" {
		session.Stdin = strings.NewReader(*r.stdin)
	}
	var stdout, stderr bytes.Buffer
	outW := &lineWriter{all: &stdout, emit: r.logStdout}
	errW := &lineWriter{all: &stderr, emit: r.logStderr}
	session.Stdout, session.Stderr = outW, errW
	done := make(chan error, 1)
	go func() { done <- session.Run(r.command) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		session.Close()
		err = fmt.Errorf("cancelled: %w", ctx.Err())
	}
	outW.flush()
	errW.flush()
	res := result{stdout: strings.TrimSuffix(stdout.String(), "\n"), stderr: strings.TrimSuffix(stderr.String(), "\n")}
	if err != nil {
		var exit *ssh.ExitError
		reason := err.Error()
		if errors.As(err, &exit) {
			reason = fmt.Sprintf("exit status %d", exit.ExitStatus())
			if exit.Signal() != "" {
				reason = "killed by signal " + exit.Signal()
			}
		}
		shown := res.stderr
		label := "stderr"
		if strings.TrimSpace(shown) == "" {
			shown, label = lastLines(res.stdout, 20), "stderr empty; stdout (last lines)"
		}
		return res, fmt.Errorf("%s; %s:\n%s", reason, label, shown)
	}
	return res, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
