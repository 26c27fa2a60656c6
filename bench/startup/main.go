// Command startup measures how long `leadbox serve` takes from its start
// to the first 200 of /healthz and of /readyz, and to its log line
// "in-memory indexes loaded", on an existing database, n times.
//
// Usage:
//
//	go build -o /tmp/leadbox ./cmd/leadbox
//	go run ./bench/startup -bin /tmp/leadbox -db /tmp/big.db -n 5
//
// It polls every 2 ms, so the times are that much too long at worst. The
// server writes its emails into a temp folder (no SMTP).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

func main() {
	bin := flag.String("bin", "", "the leadbox binary")
	db := flag.String("db", "", "the database file")
	n := flag.Int("n", 5, "how many starts")
	waitLoad := flag.Bool("wait-load", true, "wait for the log line \"in-memory indexes loaded\" (false for builds that load before serving)")
	flag.Parse()
	var health, ready, loaded []time.Duration
	for i := range *n {
		h, r, l, err := once(*bin, *db, *waitLoad)
		if err != nil {
			fmt.Fprintln(os.Stderr, "startup:", err)
			os.Exit(1)
		}
		fmt.Printf("start %d: /healthz %v, /readyz %v, indexes loaded %v\n", i+1, ms(h), ms(r), ms(l))
		health, ready, loaded = append(health, h), append(ready, r), append(loaded, l)
	}
	fmt.Printf("median of %d: /healthz %v, /readyz %v, indexes loaded %v\n", *n, ms(median(health)), ms(median(ready)), ms(median(loaded)))
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func once(bin, db string, waitLoad bool) (health, ready, loaded time.Duration, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, 0, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	mail, err := os.MkdirTemp("", "startup-mail-")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.RemoveAll(mail)
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"LEADBOX_LISTEN=" + addr, "LEADBOX_DATABASE=" + db, "LEADBOX_MAIL_DIR=" + mail}
	logs, err := cmd.StderrPipe()
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	loadedAt := make(chan time.Duration, 1)
	go func() {
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "in-memory indexes loaded") {
				loadedAt <- time.Since(start)
			}
		}
	}()
	client := &http.Client{Timeout: time.Second}
	until200 := func(path string) time.Duration {
		for time.Since(start) < time.Minute {
			if res, err := client.Get("http://" + addr + path); err == nil {
				_ = res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return time.Since(start)
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		return -1
	}
	health = until200("/healthz")
	ready = until200("/readyz")
	if !waitLoad {
		return health, ready, 0, nil
	}
	select {
	case loaded = <-loadedAt:
	case <-time.After(time.Minute):
		return 0, 0, 0, fmt.Errorf("no \"in-memory indexes loaded\" within a minute")
	}
	return health, ready, loaded, nil
}
