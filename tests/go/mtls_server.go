// mtls_server: a Go net/http HTTPS server with one listener per tls.ClientAuthType, for
// tests/test_tomcat_go.py.  Standard library only (no go.mod, no network at build time).
//
//	mtls_server -cert server.pem -key server.key -ca ca.pem MODE...
//
// MODE is require (RequireAndVerifyClientCert), verify-if-given (VerifyClientCertIfGiven),
// request (RequestClientCert), require-any (RequireAnyClientCert), none (NoClientCert), or
// verify-if-given+check: VerifyClientCertIfGiven plus the handler check a Go service uses to
// protect its paths (401 without a verified chain).  Every listener binds 127.0.0.1:0 and is
// announced on stdout as "listening MODE PORT"; "ready" follows when all are up.  Each handler
// answers 200 "ok" (TLS 1.2 and 1.3, Go's defaults).  The process runs until it is signalled.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

var modes = map[string]tls.ClientAuthType{
	"require":               tls.RequireAndVerifyClientCert,
	"verify-if-given":       tls.VerifyClientCertIfGiven,
	"verify-if-given+check": tls.VerifyClientCertIfGiven,
	"request":               tls.RequestClientCert,
	"require-any":           tls.RequireAnyClientCert,
	"none":                  tls.NoClientCert,
}

func main() {
	certFile := flag.String("cert", "", "server certificate (PEM)")
	keyFile := flag.String("key", "", "server key (PEM)")
	caFile := flag.String("ca", "", "client CA (PEM)")
	flag.Parse()
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatalf("server certificate: %v", err)
	}
	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		log.Fatalf("client CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		log.Fatalf("client CA: no certificate in %s", *caFile)
	}
	if flag.NArg() == 0 {
		log.Fatal("no MODE given")
	}
	for _, mode := range flag.Args() {
		auth, ok := modes[mode]
		if !ok {
			log.Fatalf("unknown mode %q", mode)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatalf("listen: %v", err)
		}
		check := mode == "verify-if-given+check"
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if check && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
				http.Error(w, "client certificate required", http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintln(w, "ok")
		})
		srv := &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			TLSConfig: &tls.Config{
				Certificates: []tls.Certificate{cert},
				ClientAuth:   auth,
				ClientCAs:    pool,
				MinVersion:   tls.VersionTLS12,
			},
			// Go logs every refused handshake; stderr is the test's log.
			ErrorLog: log.New(os.Stderr, mode+": ", 0),
		}
		go func() { log.Fatal(srv.ServeTLS(ln, "", "")) }()
		fmt.Printf("listening %s %d\n", mode, ln.Addr().(*net.TCPAddr).Port)
	}
	fmt.Println("ready")
	select {}
}
