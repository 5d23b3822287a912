package consulelectotel_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/hashicorp/consul/api"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lock"
	consulelectotel "github.com/consulelect/consulelect/metrics/otel"
)

// An elector and a lock session report to a MeterProvider (here the SDK's
// with a ManualReader; an application uses its own, with an exporter).
func Example() {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = provider.Shutdown(context.Background()) }()
	// readme:begin metrics-otel
	m, err := consulelectotel.New(provider) // or otel.GetMeterProvider()
	if err != nil {
		log.Fatal(err)
	}
	e, err := leader.New(client, leader.Config{Key: "my-service/leader"}, leader.WithMetrics(m.Leader()))
	if err != nil {
		log.Fatal(err)
	}
	m.Watch(e) // the status gauge from now on (0 on a standby), the time left to the deadline
	locks, err := lock.NewSession(client, lock.Config{}, lock.WithMetrics(m.Lock()))
	if err != nil {
		log.Fatal(err)
	}
	// readme:end
	if err := e.Start(); err != nil {
		log.Fatal(err)
	}
	for !e.IsLeader() {
		time.Sleep(10 * time.Millisecond)
	}
	if err := locks.Do(context.Background(), "example/otel-lock", func(context.Context, uint64) error { return nil }); err != nil {
		log.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch d := mt.Data.(type) {
			case metricdata.Gauge[int64]:
				if mt.Name == "consulelect.leader.status" {
					for _, dp := range d.DataPoints {
						key, _ := dp.Attributes.Value("key")
						fmt.Printf("%s{key=%s} %d\n", mt.Name, key.AsString(), dp.Value)
					}
				}
			case metricdata.Sum[int64]:
				if mt.Name == "consulelect.lock.releases" {
					for _, dp := range d.DataPoints {
						reason, _ := dp.Attributes.Value("reason")
						fmt.Printf("%s{reason=%s} %d\n", mt.Name, reason.AsString(), dp.Value)
					}
				}
			}
		}
	}
	if err := e.Stop(context.Background()); err != nil {
		log.Fatal(err)
	}
	if err := locks.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// consulelect.leader.status{key=my-service/leader} 1
	// consulelect.lock.releases{reason=unlocked} 1
}
