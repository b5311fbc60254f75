import * as pulumi from "@pulumi/pulumi";
import * as ptc from "@pulumi/ecr-pull-through-cache";

const config = new pulumi.Config();

// The same component the Python project uses, validated the same way before anything is created.
const cache = new ptc.PullThroughCache("dev", {
    environment: "dev",
    tags: { team: "platform" },
    upstreams: [
        { kind: "ecr-public" },
        { kind: "k8s" },
        {
            kind: "docker-hub",
            username: "acme-bot",
            accessToken: config.requireSecret("dockerHubToken"),
            tokenScopes: ["repo:public_read"],
        },
    ],
    template: { imageTagMutability: "IMMUTABLE_WITH_EXCLUSION", imageTagMutabilityExclusionFilters: ["latest"] },
});

export const registryUrl = cache.registryUrl;
export const consumerPolicyArns = cache.consumerPolicyArns;
export const cacheUris = cache.upstreams.apply(upstreams =>
    Object.fromEntries(Object.entries(upstreams).map(([prefix, upstream]) => [prefix, upstream.cacheUri])));
