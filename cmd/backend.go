package cmd

import (
	"context"

	"github.com/tagpay/tagpay/api"
	"github.com/tagpay/tagpay/backend"
)

// openLocal opens the ledger file with the domain settings of the configuration.
func (f *Factory) openLocal(_ context.Context, path string) (backend.Backend, func() error, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	opts := localOptions(cfg)
	opts.Store.MustExist = f.readOnly
	l, err := backend.OpenLocal(path, opts)
	if err != nil {
		return nil, nil, err
	}
	return l, l.Close, nil
}

// dialServer returns a client of the tagpay server at url; every ledger command then
// runs there, with the same results and exit codes.
func (f *Factory) dialServer(url, token string) (backend.Backend, error) {
	return api.NewClient(url, token, api.WithUserAgent("tagpay/"+f.Build.Version)), nil
}
