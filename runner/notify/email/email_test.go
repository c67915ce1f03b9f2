package email_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/email"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// received is one message as the SMTP server took it.
type received struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

// backend is a go-smtp server's backend: it keeps what it receives, checks
// PLAIN logins, and refuses recipients it is told to.
type backend struct {
	user, pass string
	refuse     map[string]*smtp.SMTPError // by recipient

	mu   sync.Mutex
	msgs []received
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) { return &session{b: b, conn: c}, nil }

type session struct {
	b    *backend
	conn *smtp.Conn
	cur  received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.b.user || password != s.b.pass {
			return smtp.ErrAuthFailed
		}
		s.cur.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && s.cur.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.b.refuse[to]; err != nil {
		return err
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = data
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{user: s.cur.user} }
func (s *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and writes it to a PEM file
// for the sender's ca_file.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, _ := x509.MarshalECPrivateKey(key)
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, file
}

type serverMode int

const (
	plain    serverMode = iota // no TLS at all
	startTLS                   // offers STARTTLS
	implicit                   // TLS from the first byte
)

// startServer runs a go-smtp server on loopback and returns its port.
func startServer(t *testing.T, b *backend, mode serverMode, cert tls.Certificate) int {
	t.Helper()
	s := smtp.NewServer(b)
	s.Domain = "smtp.test"
	s.ReadTimeout, s.WriteTimeout = 5*time.Second, 5*time.Second
	s.MaxMessageBytes = 10 << 20
	s.MaxRecipients = 50
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case startTLS:
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	case implicit:
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, s.TLSConfig)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func newChannel(t *testing.T, cfg email.Config, topts template.Options) *email.Channel {
	t.Helper()
	topts.LinkBase = "https://vigil.example.com"
	set, err := template.New("email", topts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := email.New(cfg, email.Options{Templates: set, Now: func() time.Time { return at }, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func send(t *testing.T, c *email.Channel, m *notify.Message) (bool, error) {
	t.Helper()
	ps, err := c.Render(m)
	if err != nil || len(ps) != 1 {
		t.Fatalf("Render = %v, %v", ps, err)
	}
	return c.Send(t.Context(), ps[0])
}

// parsed is a received MIME message taken apart.
type parsed struct {
	header     mail.Header
	subject    string
	text, html string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a message: %v\n%s", err, data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{header: msg.Header, subject: subject}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q: want multipart/alternative", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = part // multipart decodes quoted-printable itself and drops the header
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(part)
		}
		body, _ := io.ReadAll(r)
		ct, cparams, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if !strings.EqualFold(cparams["charset"], "utf-8") {
			t.Errorf("part %s charset %q", ct, cparams["charset"])
		}
		switch ct {
		case "text/plain":
			p.text = string(body)
		case "text/html":
			p.html = string(body)
		default:
			t.Errorf("unexpected part %s", ct)
		}
	}
	if p.text == "" || p.html == "" {
		t.Fatalf("want a text and an HTML part:\n%s", data)
	}
	return p
}

func TestPlainRelay(t *testing.T) {
	b := &backend{}
	port := startServer(t, b, plain, tls.Certificate{})
	c := newChannel(t, email.Config{Host: "127.0.0.1", Port: port, TLS: email.NoTLS, From: "Vigil <vigil@risk.example.com>",
		To: []string{"oncall@risk.example.com", "Risk Team <team@risk.example.com>"}, Cc: []string{"audit@risk.example.com"}}, template.Options{})
	m := template.Example(3, template.EN)
	m.Alerts[0].Reason = "amount > 5 & <script>alert(1)</script>"
	if retry, err := send(t, c, m); err != nil {
		t.Fatalf("Send = %v, %v", retry, err)
	}
	if len(b.msgs) != 1 {
		t.Fatalf("server received %d messages", len(b.msgs))
	}
	got := b.msgs[0]
	if got.from != "vigil@risk.example.com" || strings.Join(got.to, ",") != "oncall@risk.example.com,team@risk.example.com,audit@risk.example.com" || got.tls {
		t.Errorf("envelope from %s to %v, tls %v", got.from, got.to, got.tls)
	}
	p := parse(t, got.data)
	if p.subject != "[FIRING:2] 3 alerts from 3 rules" {
		t.Errorf("Subject = %q", p.subject)
	}
	for k, want := range map[string]string{"From": `"Vigil" <vigil@risk.example.com>`, "Message-Id": "<example-key@risk.example.com>",
		"Auto-Submitted": "auto-generated", "X-Mailer": "vigil", "Cc": "<audit@risk.example.com>"} {
		if v := p.header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	if to := p.header.Get("To"); !strings.Contains(to, "<oncall@risk.example.com>") || !strings.Contains(to, `"Risk Team" <team@risk.example.com>`) {
		t.Errorf("To = %q", to)
	}
	if d, err := p.header.Date(); err != nil || !d.Equal(at) {
		t.Errorf("Date = %v, %v", d, err)
	}
	for _, want := range []string{"[FIRING:2] 3 alerts from 3 rules", "2 firing, 1 resolved", "Reason:     amount > 5 & <script>alert(1)</script>",
		"Console:    https://vigil.example.com/alerts/1000", "Many customers behind one IP (resolved)"} {
		if !strings.Contains(p.text, want) {
			t.Errorf("text part lacks %q:\n%s", want, p.text)
		}
	}
	for _, want := range []string{`<a href="https://vigil.example.com/alerts/1000">Card testing burst</a>`, "amount &gt; 5 &amp; &lt;script&gt;alert(1)&lt;/script&gt;",
		"<td>Critical</td>", `<a href="https://vigil.example.com/alerts">Open the console</a>`} {
		if !strings.Contains(p.html, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, p.html)
		}
	}
	if strings.Contains(p.html, "<script>") {
		t.Error("HTML part carries the reason unescaped")
	}
}

func TestStartTLSWithLogin(t *testing.T) {
	cert, caFile := selfSigned(t)
	b := &backend{user: "vigil", pass: "smtp-s3cret"}
	port := startServer(t, b, startTLS, cert)
	c := newChannel(t, email.Config{Host: "127.0.0.1", Port: port, TLS: email.StartTLS, CAFile: caFile, Username: "vigil", Password: "smtp-s3cret",
		From: "vigil@risk.example.com", To: []string{"oncall@risk.example.com"}}, template.Options{Locale: template.ZH})
	if retry, err := send(t, c, template.Example(1, template.ZH)); err != nil {
		t.Fatalf("Send = %v, %v", retry, err)
	}
	got := b.msgs[0]
	if !got.tls || got.user != "vigil" {
		t.Fatalf("tls %v, user %q: want the message over STARTTLS after a login", got.tls, got.user)
	}
	p := parse(t, got.data)
	if p.subject != "【告警:1】银行卡测试攻击 · card_id=e-100000" || !strings.Contains(p.text, "原因：    1 分钟内 6 笔小额授权") ||
		!strings.Contains(p.html, `<html lang="zh-CN">`) || !strings.Contains(p.html, "<td>高</td>") {
		t.Errorf("subject %q\ntext:\n%s\nhtml:\n%s", p.subject, p.text, p.html)
	}
}

func TestImplicitTLS(t *testing.T) {
	cert, caFile := selfSigned(t)
	b := &backend{}
	port := startServer(t, b, implicit, cert)
	c := newChannel(t, email.Config{Host: "127.0.0.1", Port: port, TLS: email.TLS, CAFile: caFile, From: "vigil@risk.example.com", To: []string{"oncall@risk.example.com"}}, template.Options{})
	if retry, err := send(t, c, template.Example(1, template.EN)); err != nil || !b.msgs[0].tls {
		t.Fatalf("Send = %v, %v; tls %v", retry, err, len(b.msgs) > 0 && b.msgs[0].tls)
	}
}

func TestTemplateOverrideAnd300Alerts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mail.tmpl")
	os.WriteFile(file, []byte(`{{define "subject"}}Vigil: {{.Firing}} firing{{end}}`), 0o600)
	b := &backend{}
	port := startServer(t, b, plain, tls.Certificate{})
	c := newChannel(t, email.Config{Host: "127.0.0.1", Port: port, TLS: email.NoTLS, From: "vigil@risk.example.com", To: []string{"oncall@risk.example.com"}}, template.Options{File: file})
	if _, err := send(t, c, template.Example(300, template.EN)); err != nil {
		t.Fatal(err)
	}
	p := parse(t, b.msgs[0].data)
	if p.subject != "Vigil: 299 firing" {
		t.Errorf("Subject = %q", p.subject)
	}
	if rows := strings.Count(p.html, "<tr style=\"border-top"); rows != 300 {
		t.Errorf("%d alert rows in the HTML part", rows)
	}
	for i := range 300 {
		if !strings.Contains(p.text, "https://vigil.example.com/alerts/"+strconv.Itoa(1000+i)) {
			t.Fatalf("text part lacks alert %d", 1000+i)
		}
	}
}

func TestFailures(t *testing.T) {
	cert, caFile := selfSigned(t)
	_, otherCA := selfSigned(t)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	for _, tc := range []struct {
		name    string
		backend *backend
		mode    serverMode
		cfg     email.Config
		port    int // instead of the server's
		retry   bool
		code    string
		want    string
	}{
		{name: "wrong password", backend: &backend{user: "vigil", pass: "right"}, mode: startTLS,
			cfg: email.Config{TLS: email.StartTLS, CAFile: caFile, Username: "vigil", Password: "wrong"}, code: "535", want: "Authentication failed"},
		{name: "recipient refused", backend: &backend{refuse: map[string]*smtp.SMTPError{"oncall@risk.example.com": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}}},
			cfg: email.Config{TLS: email.NoTLS}, code: "550", want: "No such user"},
		{name: "mailbox busy", backend: &backend{refuse: map[string]*smtp.SMTPError{"oncall@risk.example.com": {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}}},
			cfg: email.Config{TLS: email.NoTLS}, retry: true, want: "Try again later"},
		{name: "no STARTTLS offered", backend: &backend{}, mode: plain, cfg: email.Config{TLS: email.StartTLS}, want: "does not support STARTTLS"},
		{name: "untrusted certificate", backend: &backend{}, mode: startTLS, cfg: email.Config{TLS: email.StartTLS, CAFile: otherCA}, want: "certificate"},
		{name: "server down", cfg: email.Config{TLS: email.NoTLS}, port: closedPort, retry: true, want: "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := tc.port
			if tc.backend != nil {
				port = startServer(t, tc.backend, tc.mode, cert)
			}
			cfg := tc.cfg
			cfg.Host, cfg.Port, cfg.From, cfg.To = "127.0.0.1", port, "vigil@risk.example.com", []string{"oncall@risk.example.com"}
			retry, err := send(t, newChannel(t, cfg, template.Options{}), template.Example(1, template.EN))
			if err == nil || retry != tc.retry || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, %v; want retry %v and an error mentioning %q", retry, err, tc.retry, tc.want)
			}
			var ve *notify.VendorError
			if !tc.retry && (!errors.As(err, &ve) || ve.Code != tc.code || ve.Vendor != "email") {
				t.Errorf("error %#v: want a VendorError with code %q", err, tc.code)
			}
			if strings.Contains(err.Error(), "right") || strings.Contains(err.Error(), "wrong") && tc.name == "wrong password" {
				t.Errorf("error %q shows a password", err)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ok := email.Config{Host: "smtp.example.com", From: "vigil@example.com", To: []string{"a@example.com"}}
	for _, tc := range []struct {
		mod  func(*email.Config)
		want string
	}{
		{func(c *email.Config) { c.Host = "" }, `host ""`},
		{func(c *email.Config) { c.TLS = "ssl" }, `tls "ssl": want starttls, tls or none`},
		{func(c *email.Config) { c.Port = 70000 }, "port 70000"},
		{func(c *email.Config) { c.TLS, c.Username, c.Password = email.NoTLS, "u", "p" }, "username: with tls none"},
		{func(c *email.Config) { c.Username = "u" }, "password: required with a username"},
		{func(c *email.Config) { c.From = "not an address" }, `from "not an address"`},
		{func(c *email.Config) { c.To = nil }, "to: at least one address"},
		{func(c *email.Config) { c.Cc = []string{"x"} }, `cc[0] "x"`},
		{func(c *email.Config) { c.CAFile = "/nonexistent/ca.pem" }, "ca_file:"},
	} {
		cfg := ok
		tc.mod(&cfg)
		if _, err := email.New(cfg, email.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New = %v, want it to mention %q", err, tc.want)
		}
	}
}
