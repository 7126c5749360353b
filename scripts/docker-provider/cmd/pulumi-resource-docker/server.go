package main

import (
	"context"
	"fmt"

	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	rpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"local/pulumi-docker-bridge/image"
)

// server is the plugin's gRPC server: the bridged provider's, except that the Image resource's
// calls go to the native Image provider and the schema has Image in it.
type server struct {
	rpc.ResourceProviderServer // the bridged provider: every call not overridden below
	image                      *image.Provider
	schema                     string
}

func newServer(bridged rpc.ResourceProviderServer, img *image.Provider, schema []byte) *server {
	return &server{ResourceProviderServer: bridged, image: img, schema: string(schema)}
}

func isImage(urn string) bool { return resource.URN(urn).Type().String() == image.Token }

func (s *server) GetSchema(_ context.Context, req *rpc.GetSchemaRequest) (*rpc.GetSchemaResponse, error) {
	if v := req.GetVersion(); v != 0 {
		return nil, fmt.Errorf("unsupported schema version %d", v)
	}
	return &rpc.GetSchemaResponse{Schema: s.schema}, nil
}

func (s *server) Configure(ctx context.Context, req *rpc.ConfigureRequest) (*rpc.ConfigureResponse, error) {
	if err := s.image.Configure(req); err != nil {
		return nil, err
	}
	return s.ResourceProviderServer.Configure(ctx, req)
}

func (s *server) Check(ctx context.Context, req *rpc.CheckRequest) (*rpc.CheckResponse, error) {
	if isImage(req.GetUrn()) {
		return s.image.Check(ctx, req)
	}
	return s.ResourceProviderServer.Check(ctx, req)
}

func (s *server) Diff(ctx context.Context, req *rpc.DiffRequest) (*rpc.DiffResponse, error) {
	if isImage(req.GetUrn()) {
		return s.image.Diff(ctx, req)
	}
	return s.ResourceProviderServer.Diff(ctx, req)
}

func (s *server) Create(ctx context.Context, req *rpc.CreateRequest) (*rpc.CreateResponse, error) {
	if isImage(req.GetUrn()) {
		return s.image.Create(ctx, req)
	}
	return s.ResourceProviderServer.Create(ctx, req)
}

func (s *server) Read(ctx context.Context, req *rpc.ReadRequest) (*rpc.ReadResponse, error) {
	if isImage(req.GetUrn()) {
		return s.image.Read(ctx, req)
	}
	return s.ResourceProviderServer.Read(ctx, req)
}

func (s *server) Update(ctx context.Context, req *rpc.UpdateRequest) (*rpc.UpdateResponse, error) {
	if isImage(req.GetUrn()) {
		return s.image.Update(ctx, req)
	}
	return s.ResourceProviderServer.Update(ctx, req)
}

func (s *server) Delete(ctx context.Context, req *rpc.DeleteRequest) (*pbempty.Empty, error) {
	if isImage(req.GetUrn()) {
		return s.image.Delete(ctx, req)
	}
	return s.ResourceProviderServer.Delete(ctx, req)
}
