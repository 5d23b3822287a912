package fxmodule

import (
	"fmt"

	"github.com/hashicorp/consul/api"
)

// NewConsulClient is an opt-in constructor of the app's *api.Client from
// api.DefaultConfig, which reads the usual environment: CONSUL_HTTP_ADDR,
// CONSUL_HTTP_TOKEN (or CONSUL_HTTP_TOKEN_FILE), CONSUL_HTTP_SSL,
// CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME
// and CONSUL_HTTP_SSL_VERIFY. Provide it only if the app has no client of
// its own: fx.Provide(fxmodule.NewConsulClient).
func NewConsulClient() (*api.Client, error) {
	c, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("fxmodule: consul client: %w", err)
	}
	return c, nil
}
