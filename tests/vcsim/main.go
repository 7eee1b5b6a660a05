// Command vcsim serves govmomi's ESX simulator on a loopback address for
// virsnap's ESX driver tests.
//
// Usage: vcsim [-listen 127.0.0.1:0] [-model esx|vpx] [-trace] [-tls-cert cert.pem -tls-key key.pem]
//
//	[-dc N] [-cluster N] [-host N] [-cluster-host N] [-folder N] (vpx model only, as
//	govmomi's own vcsim flags: datacenters, clusters and standalone hosts per
//	datacenter, hosts per cluster, datacenters placed inside a folder)
//
// The first line on stdout is the endpoint URL (http://user:pass@host:port/sdk).
// SIGTERM or SIGINT closes the server and removes the model (its temporary
// datastore directory) before exiting.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	model := flag.String("model", "esx", "inventory model: esx (a host) or vpx (a vCenter)")
	trace := flag.Bool("trace", false, "dump every SOAP request and response to stderr")
	certFile := flag.String("tls-cert", "", "serve https with this PEM certificate (with -tls-key)")
	keyFile := flag.String("tls-key", "", "PEM private key for -tls-cert")
	dc := flag.Int("dc", -1, "vpx: datacenters (model default when negative)")
	cluster := flag.Int("cluster", -1, "vpx: clusters per datacenter")
	host := flag.Int("host", -1, "vpx: standalone hosts per datacenter")
	clusterHost := flag.Int("cluster-host", -1, "vpx: hosts per cluster")
	folder := flag.Int("folder", -1, "vpx: datacenters placed inside a folder of their own")
	flag.Parse()

	simulator.Trace = *trace
	var m *simulator.Model
	switch *model {
	case "esx":
		m = simulator.ESX()
	case "vpx":
		m = simulator.VPX()
		set := func(dst *int, v int) {
			if v >= 0 {
				*dst = v
			}
		}
		set(&m.Datacenter, *dc)
		set(&m.Cluster, *cluster)
		set(&m.Host, *host)
		set(&m.ClusterHost, *clusterHost)
		set(&m.Folder, *folder)
	default:
		fmt.Fprintln(os.Stderr, "vcsim: unknown model", *model)
		os.Exit(2)
	}
	if err := m.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim: create:", err)
		os.Exit(1)
	}
	m.Service.Listen = &url.URL{Host: *listen}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "vcsim: tls:", err)
			os.Exit(1)
		}
		m.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	s := m.Service.NewServer()
	fmt.Println(s.URL.String())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	s.Close()
	m.Remove()
}
