// Package email delivers notifications by SMTP with
// github.com/wneessen/go-mail: a multipart/alternative message with a plain
// text and an HTML part, over STARTTLS (required), implicit TLS, or — for a
// relay on the same host only — no TLS.
//
// The Message-ID derives from the idempotency key, so a message sent again
// after a crash is the same message to mail clients. SMTP's own classes
// decide retries: 4xx replies and connection trouble are retried, 5xx
// replies (a refused login, recipient or message) are permanent
// *notify.VendorErrors carrying the server's reply.
package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/vigil-risk/vigil/runner/notify"
	"github.com/vigil-risk/vigil/runner/notify/internal/vendorhttp"
	"github.com/vigil-risk/vigil/runner/notify/template"
)

// Vendor names e-mail in errors.
const Vendor = "email"

// TLS modes.
const (
	StartTLS = "starttls" // plain connection upgraded with STARTTLS, which the server must offer (port 587)
	TLS      = "tls"      // TLS from the first byte (port 465)
	NoTLS    = "none"     // no encryption: a relay on the same host or network only (port 25)
)

// Config is one SMTP server and the addresses a receiver writes to.
type Config struct {
	Host       string
	Port       int    // default 587, 465 or 25 by TLS mode
	TLS        string // starttls (default), tls or none
	CAFile     string // PEM certificates to trust besides the system's, e.g. an internal CA
	ServerName string // the name the certificate must carry (default Host)
	Username   string // empty: no SMTP AUTH
	Password   string // a secret
	Hello      string // the HELO/EHLO name (default the machine's host name)
	From       string
	To         []string
	Cc         []string
}

// Options are what a channel needs besides its config.
type Options struct {
	Templates *template.Set    // default: the email defaults
	Now       func() time.Time // the Date header (default time.Now)
	Timeout   time.Duration    // a connection's deadline when the context has none (default 30s)
}

// Channel is one SMTP sender.
type Channel struct {
	cfg     Config
	tls     *tls.Config
	domain  string // of From, for Message-IDs
	tmpl    *template.Set
	now     func() time.Time
	timeout time.Duration
}

var _ notify.Channel = (*Channel)(nil)

// New checks cfg; errors name the field.
func New(cfg Config, opts Options) (*Channel, error) {
	if cfg.Host == "" || strings.ContainsAny(cfg.Host, " /:") {
		return nil, fmt.Errorf("host %q: want the SMTP server's host name", cfg.Host)
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = StartTLS
	case StartTLS, TLS, NoTLS:
	default:
		return nil, fmt.Errorf("tls %q: want starttls, tls or none", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = map[string]int{StartTLS: 587, TLS: 465, NoTLS: 25}[cfg.TLS]
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("port %d: want 1-65535", cfg.Port)
	}
	if cfg.TLS == NoTLS && cfg.Username != "" {
		return nil, errors.New("username: with tls none the password would cross the network in the clear; use starttls or tls")
	}
	if cfg.Username != "" && cfg.Password == "" {
		return nil, errors.New("password: required with a username (from secret_env or secret_file)")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("from %q: %w", cfg.From, err)
	}
	if len(cfg.To) == 0 {
		return nil, errors.New("to: at least one address")
	}
	for field, list := range map[string][]string{"to": cfg.To, "cc": cfg.Cc} {
		for i, a := range list {
			if _, err := mail.ParseAddress(a); err != nil {
				return nil, fmt.Errorf("%s[%d] %q: %w", field, i, a, err)
			}
		}
	}
	tmpl, err := template.For("email", opts.Templates)
	if err != nil {
		return nil, err
	}
	c := &Channel{cfg: cfg, tmpl: tmpl, now: opts.Now, timeout: opts.Timeout}
	c.domain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	c.tls = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.ServerName != "" {
		c.tls.ServerName = cfg.ServerName
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", cfg.CAFile)
		}
		c.tls.RootCAs = pool
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	return c, nil
}

// Limits implements notify.Channel: SMTP sets none a sender must honour.
func (c *Channel) Limits() notify.Limits { return notify.Limits{} }

// Rendered is an e-mail before it is addressed and dated.
type Rendered struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// Render implements notify.Channel: one e-mail with every alert.
func (c *Channel) Render(m *notify.Message) ([]notify.Payload, error) {
	return c.tmpl.Render(m, 0, "application/json", func(d *template.Data, _ int) ([]byte, error) {
		var r Rendered
		var err error
		if r.Subject, err = c.tmpl.Execute("subject", d); err != nil {
			return nil, err
		}
		if r.Text, err = c.tmpl.Execute("text", d); err != nil {
			return nil, err
		}
		if r.HTML, err = c.tmpl.Execute("html", d); err != nil {
			return nil, err
		}
		r.Subject = strings.Join(strings.Fields(r.Subject), " ") // one line
		return vendorhttp.Marshal(r)
	})
}

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, p notify.Payload) (bool, error) {
	var r Rendered
	if err := json.Unmarshal(p.Body, &r); err != nil {
		return false, fmt.Errorf("%s: payload: %w", Vendor, err)
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(c.cfg.From); err != nil {
		return false, fmt.Errorf("%s: from: %w", Vendor, err)
	}
	if err := msg.To(c.cfg.To...); err != nil {
		return false, fmt.Errorf("%s: to: %w", Vendor, err)
	}
	if len(c.cfg.Cc) > 0 {
		if err := msg.Cc(c.cfg.Cc...); err != nil {
			return false, fmt.Errorf("%s: cc: %w", Vendor, err)
		}
	}
	msg.Subject(r.Subject)
	msg.SetDateWithValue(c.now())
	msg.SetMessageIDWithValue(messageID(p.IdempotencyKey) + "@" + c.domain)
	msg.SetGenHeader(gomail.HeaderXMailer, "vigil")
	msg.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	msg.SetBodyString(gomail.TypeTextPlain, r.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, r.HTML)

	timeout := c.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	opts := []gomail.Option{gomail.WithPort(c.cfg.Port), gomail.WithTLSConfig(c.tls), gomail.WithTimeout(timeout)}
	switch c.cfg.TLS {
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLS:
		opts = append(opts, gomail.WithSSL())
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if c.cfg.Hello != "" {
		opts = append(opts, gomail.WithHELO(c.cfg.Hello))
	}
	if c.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(c.cfg.Username), gomail.WithPassword(c.cfg.Password))
	}
	client, err := gomail.NewClient(c.cfg.Host, opts...)
	if err != nil {
		return false, fmt.Errorf("%s: %w", Vendor, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return classify(err)
	}
	return false, nil
}

// messageID keeps the characters a Message-ID's left part allows.
func messageID(key string) string {
	if key == "" {
		key = "vigil"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r)) {
			return r
		}
		return '-'
	}, key)
}

// classify sorts an SMTP failure by its reply class: a 5xx reply (a
// refused login, sender, recipient or message) is permanent, and so are an
// untrusted certificate and a server without the STARTTLS the config
// requires; 4xx replies and trouble reaching the server are worth retrying.
func classify(err error) (bool, error) {
	code := 0
	var se *gomail.SendError
	var te *textproto.Error
	if errors.As(err, &se) {
		code = se.ErrorCode()
	} else if errors.As(err, &te) {
		code = te.Code
	}
	msg := vendorhttp.OneLine([]byte(err.Error()), 256)
	var cert *tls.CertificateVerificationError
	switch {
	case errors.As(err, &cert):
		// An untrusted certificate needs an operator (ca_file, server_name).
		return false, &notify.VendorError{Vendor: Vendor, Message: msg}
	case code >= 500 && code < 600:
		return false, &notify.VendorError{Vendor: Vendor, Code: strconv.Itoa(code), Message: msg}
	case code == 0 && strings.Contains(msg, "does not support STARTTLS"):
		return false, &notify.VendorError{Vendor: Vendor, Message: msg}
	}
	return true, fmt.Errorf("%s: %w", Vendor, err)
}
