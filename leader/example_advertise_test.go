package leader_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// Other services find the leader by DNS or the catalog:
// leader.billing.service.consul answers with the leader's address only.
func ExampleAdvertise() {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	// readme:begin advertise
	e, err := leader.New(client, leader.Config{
		Key: "billing/leader",
		Advertise: &leader.Advertise{
			Service: "billing", // leader.billing.service.consul, standby.billing.service.consul
			Address: "10.0.0.7",
			Port:    8080,
		},
	})
	// readme:end
	if err != nil {
		log.Fatal(err)
	}
	if err := e.Start(); err != nil {
		log.Fatal(err)
	}
	defer e.Stop(context.Background())
	for !e.IsLeader() {
		time.Sleep(10 * time.Millisecond)
	}
	for {
		svcs, _, err := client.Catalog().Service("billing", "leader", nil)
		if err != nil {
			log.Fatal(err)
		}
		if len(svcs) == 1 {
			fmt.Println(svcs[0].ServiceAddress, svcs[0].ServicePort)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Output: 10.0.0.7 8080
}
