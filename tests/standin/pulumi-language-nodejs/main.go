// Command pulumi-language-nodejs is a stand-in for Pulumi's Node.js language host, built only for this project's
// end-to-end tests (the TypeScript example).
//
// Why it exists: as for the Python host, the Go module proxy refuses the real host's module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3, 403 for every version), and the last release
// that shipped it inside sdk/v3 (v3.68.0) has no GeneratePackage or Link, which `pulumi package add` needs. This host
// does what the real one does at the pinned CLI's version, with Pulumi's own packages for the work: the Node.js SDK
// generator (pkg/v3/codegen/nodejs), the schema loader and the npm package manager (sdk/v3/nodejs/npm). Each method
// names the function of sdk/nodejs/cmd/pulumi-language-nodejs/main.go it follows.
//
// It is a test double: never shipped, never on a user's PATH outside `make` and the tests.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/blang/semver"
	codegen "github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The exit code the Node.js SDK's runner uses after it printed a message the user can act on (main.go: Run).
const userActionableExit = 32

func main() {
	flag.Parse()
	engineAddress := ""
	if flag.NArg() > 0 {
		engineAddress = flag.Arg(0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() {
		<-ctx.Done()
		close(done)
	}()
	if engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start health check host RPC server: %w", err))
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: done,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &host{engineAddress: engineAddress})
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

// packageManager is the project's `packagemanager` runtime option, else npm's auto-detection (main.go: parseOptions).
func packageManager(info *pulumirpc.ProgramInfo) (npm.PackageManager, error) {
	chosen := npm.AutoPackageManager
	if v, ok := info.GetOptions().AsMap()["packagemanager"].(string); ok && v != "" {
		chosen = npm.PackageManagerType(v)
	}
	return npm.ResolvePackageManager(chosen, info.GetProgramDirectory())
}

func (h *host) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(ctx context.Context, _ *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// GetRequiredPackages lists the packages in node_modules whose package.json says `"pulumi": {"resource": true}`
// (main.go: getPackagesFromDir, getPackageInfo).
func (h *host) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	root := filepath.Join(req.GetInfo().GetProgramDirectory(), "node_modules")
	manifests, _ := filepath.Glob(filepath.Join(root, "*", "package.json"))
	scoped, _ := filepath.Glob(filepath.Join(root, "@*", "*", "package.json"))
	deps := []*pulumirpc.PackageDependency{}
	for _, path := range append(manifests, scoped...) {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var manifest struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Pulumi  struct {
				Resource bool   `json:"resource"`
				Name     string `json:"name"`
				Version  string `json:"version"`
				Server   string `json:"server"`
			} `json:"pulumi"`
		}
		if json.Unmarshal(data, &manifest) != nil || !manifest.Pulumi.Resource {
			continue
		}
		name := manifest.Pulumi.Name
		if name == "" {
			name = strings.TrimPrefix(manifest.Name, "@pulumi/")
		}
		ver := manifest.Pulumi.Version
		if ver == "" {
			ver = manifest.Version
		}
		if ver != "" && !strings.HasPrefix(ver, "v") {
			ver = "v" + ver
		}
		deps = append(deps, &pulumirpc.PackageDependency{
			Kind: "resource", Name: name, Version: ver, Server: manifest.Pulumi.Server,
		})
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

// Run runs the program with the Node.js SDK's own runner, @pulumi/pulumi/cmd/run, found from the program's directory
// (main.go: Run, locateModule, execRuntime, constructArguments); TypeScript unless `typescript: false`.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	locate := exec.CommandContext(ctx, "node", "-e", "console.log(require.resolve('@pulumi/pulumi/cmd/run'))")
	locate.Dir = dir
	out, err := locate.Output()
	if err != nil {
		return &pulumirpc.RunResponse{Error: "it looks like the Pulumi SDK has not been installed; run `npm install`"}, nil
	}
	args := []string{strings.TrimSpace(string(out))}
	flagArg := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	flagArg("monitor", req.GetMonitorAddress())
	flagArg("engine", h.engineAddress)
	flagArg("organization", req.GetOrganization())
	flagArg("project", req.GetProject())
	flagArg("root-directory", req.GetInfo().GetRootDirectory())
	flagArg("stack", req.GetStack())
	flagArg("pwd", dir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	flagArg("parallel", strconv.Itoa(int(req.GetParallel())))
	args = append(args, req.GetInfo().GetEntryPoint())
	args = append(args, req.GetArgs()...)

	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("failed to serialize configuration: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	keys, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("failed to serialize configuration secret keys: %w", err)
	}
	env := append(os.Environ(), "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(keys))
	if typescript, ok := req.GetInfo().GetOptions().AsMap()["typescript"].(bool); !ok || typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = struct{ *os.File }{os.Stdout}, struct{ *os.File }{os.Stderr}
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == userActionableExit {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// InstallDependencies runs the project's package manager (main.go: InstallDependencies).
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	pm, err := packageManager(req.GetInfo())
	if err != nil {
		return err
	}
	if err := pm.Install(server.Context(), req.GetInfo().GetProgramDirectory(), false, stdout, stderr); err != nil {
		return err
	}
	return closer.Close()
}

// GeneratePackage writes the Node.js SDK of a package schema with Pulumi's own generator (main.go: GeneratePackage).
func (h *host) GeneratePackage(
	ctx context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	loader, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.GetSchema()), &spec); err != nil {
		return nil, err
	}
	pkg, diags, err := schema.BindSpec(spec, schema.NewCachedLoader(loader), schema.ValidationOptions{
		AllowDanglingReferences: true,
	})
	if err != nil {
		return nil, err
	}
	found := plugin.HclDiagnosticsToRPCDiagnostics(diags)
	if diags.HasErrors() {
		return &pulumirpc.GeneratePackageResponse{Diagnostics: found}, nil
	}
	files, err := codegen.GeneratePackage("pulumi-language-nodejs", pkg, req.GetExtraFiles(),
		req.GetLocalDependencies(), req.GetLocal(), schema.NewCachedLoader(loader))
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		path := filepath.Join(req.GetDirectory(), name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.GeneratePackageResponse{Diagnostics: found}, nil
}

// Link adds each generated SDK to the program's package.json with the package manager (main.go: Link).
func (h *host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	loader, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	cached := schema.NewCachedLoader(loader)
	pm, err := packageManager(req.GetInfo())
	if err != nil {
		return nil, err
	}
	var imports strings.Builder
	for _, dep := range req.GetPackages() {
		descriptor := &schema.PackageDescriptor{Name: dep.GetPackage().GetName(), DownloadURL: dep.GetPackage().GetServer()}
		if v, err := semver.New(dep.GetPackage().GetVersion()); err == nil {
			descriptor.Version = v
		}
		ref, err := schema.LoadPackageReferenceV2(ctx, cached, descriptor)
		if err != nil {
			return nil, err
		}
		pkg, err := ref.Definition()
		if err != nil {
			return nil, err
		}
		if err := pkg.ImportLanguages(map[string]schema.Language{"nodejs": codegen.Importer}); err != nil {
			return nil, err
		}
		name := "@pulumi/" + pkg.Name
		if info, ok := pkg.Language["nodejs"].(codegen.NodePackageInfo); ok && info.PackageName != "" {
			name = info.PackageName
		} else if pkg.Namespace != "" {
			name = "@" + pkg.Namespace + "/" + pkg.Name
		}
		if err := pm.Link(ctx, req.GetInfo().GetProgramDirectory(), name, dep.GetPath()); err != nil {
			return nil, err
		}
		fmt.Fprintf(&imports, "  import * as %s from \"%s\";\n", strings.ReplaceAll(pkg.Name, "-", ""), name)
	}
	return &pulumirpc.LinkResponse{
		ImportInstructions: "You can import the SDK in your TypeScript code with:\n\n" + imports.String(),
	}, nil
}
