package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vigil-risk/vigil/runner/policy"
	"github.com/vigil-risk/vigil/runner/server"
)

// LoadOptions shape a fixed-rate load on one URL.
type LoadOptions struct {
	URL         string
	Bodies      [][]byte // request i posts Bodies[i % len(Bodies)]
	ContentType string
	Rate        float64       // requests per second
	For         time.Duration // how long to send
	Conns       int           // keep-alive connections; default 64
}

// LoadResult is what the load saw. Latency runs from when a request was
// handed to the senders to when its answer was read: a stall of the server
// delays the requests queued behind it too (the senders never wait for an
// answer before the next request is due: no coordinated omission). Late is
// how far behind schedule requests were handed over: the timer slack of
// this machine, which is not the server's.
type LoadResult struct {
	Sent, Errors     int
	Achieved         float64 // requests answered per second
	P50, P99, P999   time.Duration
	Max              time.Duration
	LateP99          time.Duration
	FirstError       error
	Rate             float64
	Elapsed, Planned time.Duration
}

// Load sends requests at a fixed rate, open loop: request i is due at
// i/Rate seconds from the start whatever the answers to earlier ones.
func Load(ctx context.Context, o LoadOptions) (LoadResult, error) {
	if o.Rate <= 0 || o.For <= 0 || len(o.Bodies) == 0 {
		return LoadResult{}, errors.New("load: want a rate, a duration and bodies")
	}
	if o.Conns <= 0 {
		o.Conns = 64
	}
	if o.ContentType == "" {
		o.ContentType = "application/json"
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: o.Conns, MaxIdleConnsPerHost: o.Conns, DisableCompression: true}}
	defer client.CloseIdleConnections()

	n := int(o.Rate * o.For.Seconds())
	lat := make([]time.Duration, n)
	late := make([]time.Duration, n)
	failed := make([]error, n)
	type job struct {
		i    int
		sent time.Time
	}
	jobs := make(chan job, n)
	var wg sync.WaitGroup
	for range o.Conns {
		wg.Go(func() {
			for j := range jobs {
				err := post(ctx, client, o.URL, o.ContentType, o.Bodies[j.i%len(o.Bodies)])
				lat[j.i] = time.Since(j.sent)
				failed[j.i] = err
			}
		})
	}
	interval := time.Duration(float64(time.Second) / o.Rate)
	start := time.Now()
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				n = i
			case <-time.After(d):
			}
		}
		if n == i {
			break
		}
		now := time.Now()
		late[i] = now.Sub(due)
		jobs <- job{i: i, sent: now}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	res := LoadResult{Sent: n, Rate: o.Rate, Elapsed: elapsed, Planned: o.For}
	lat = lat[:n]
	for _, err := range failed[:n] {
		if err != nil {
			res.Errors++
			if res.FirstError == nil {
				res.FirstError = err
			}
		}
	}
	slices.Sort(lat)
	late = late[:n]
	slices.Sort(late)
	res.LateP99 = percentile(late, 0.99)
	res.Achieved = float64(n-res.Errors) / elapsed.Seconds()
	res.P50, res.P99, res.P999 = percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 0.999)
	if n > 0 {
		res.Max = lat[n-1]
	}
	return res, ctx.Err()
}

func post(ctx context.Context, c *http.Client, url, contentType string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return err
}

// load runs Vigil's HTTP API in this process on a loopback port, with the
// pipeline `vigil run` has (features, alerts in SQLite, decision log), and
// puts the fixed-rate load on POST /v1/decide with the demo records.
func (e *env) load(ctx context.Context, rate float64, d time.Duration) (Result, error) {
	engine, err := policy.NewEngine(ctx, e.o.Policies, nil)
	if err != nil {
		return Result{}, err
	}
	pipe, db, err := e.newPipeline(ctx, engine, filepath.Join(e.dir, "load.db"))
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	srv := &http.Server{Handler: server.New(pipe, server.Options{}).Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	defer srv.Close()
	url := "http://" + l.Addr().String() + "/v1/decide"
	// Warm up connections, the policy and the caches, then measure.
	warm := min(len(e.lines)/10, 200)
	if _, err := Load(ctx, LoadOptions{URL: url, Bodies: e.lines[:warm], Rate: rate, For: 100 * time.Millisecond}); err != nil {
		return Result{}, err
	}
	lr, err := Load(ctx, LoadOptions{URL: url, Bodies: e.lines[warm:], Rate: rate, For: d})
	if err != nil {
		return Result{}, err
	}
	r := Result{Key: "load", Name: fmt.Sprintf("POST /v1/decide at %.0f requests/s for %s, loopback", rate, d),
		Records: lr.Sent, Median: lr.Elapsed, Min: lr.Elapsed, Max: lr.Elapsed,
		P50: lr.P50, P99: lr.P99, P999: lr.P999, Rate: rate, Achieved: lr.Achieved, Errors: lr.Errors, Mismatches: -1}
	r.Note = fmt.Sprintf("requests handed to the senders up to %s behind schedule (p99; this machine's timer slack, not counted as latency)", dur(lr.LateP99))
	if lr.FirstError != nil {
		r.Note += "; first error: " + lr.FirstError.Error()
	}
	return r, nil
}
