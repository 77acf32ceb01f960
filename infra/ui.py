"""The UI bucket and, with `enableCloudFront`, one distribution in front of both UI and API.

With CloudFront the browser sees one origin: static files come from the
private UI bucket (through an origin access control), `/api/*` and the player
stream path `/s/*` go to the HTTP API uncached, with the viewer's address
(`CloudFront-Viewer-Address`) and a secret origin header (`x-origin-verify`)
that the app requires, so the API's own execute-api URL cannot be used to go
around CloudFront and its client-address rule (docs/infra.md, "Client
address"). Without CloudFront the app serves the UI itself and the bucket
just waits for the deploy step.

The built UI is copied into the bucket by the deploy step (`aws s3 sync`,
then an invalidation), not declared as Pulumi assets: a file per resource
would bloat the state, turn every UI edit into an infrastructure diff, and
make `pulumi preview` depend on a UI build. See docs/infra.md.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra import iam
from infra.config import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER, StackConfig
from infra.data import PrivateBucket

# AWS managed policies (stable, documented ids).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
API_PATHS = ("/api/*", "/s/*")
# The viewer headers the API reads, named one by one: an origin request policy
# cannot say "all but Host" and add a CloudFront header too, and the viewer's
# Host must not reach API Gateway (it routes by Host and would answer 403).
# Cookies and query strings all go through. A header the app starts reading
# belongs here (a policy holds at most 10); tests/infra checks the app's reads.
API_VIEWER_HEADERS = ("accept", "content-type", "origin", "referer", "range", "if-none-match", "x-csrf-token")
# Authorization (a personal access token's bearer) can only reach the origin through a cache
# policy, never an origin request policy: /api/* keys any cache on it and on every cookie and
# query string, with nothing kept unless the app's answer says so (TTLs 0/0/1 s).
API_CACHE_KEY_HEADERS = ("authorization",)
UI_ORIGIN = "ui-bucket"
API_ORIGIN = "http-api"


class UiSite(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: StackConfig,
        *,
        api_url: pulumi.Output[str],
        origin_secret: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("yss:ui:UiSite", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = PrivateBucket(f"{name}-bucket", config, policy_later=True, opts=child)
        self.distribution: aws.cloudfront.Distribution | None = None
        if not config.enable_cloudfront:
            self.bucket.attach_policy()
            self.url: pulumi.Output[str] = api_url
            self.register_outputs({"url": self.url})
            return
        oac = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        if origin_secret is None:
            raise ValueError("with CloudFront on, the API origin needs the origin secret")
        api_host = api_url.apply(lambda u: u.removeprefix("https://").split("/", 1)[0])
        api_requests = aws.cloudfront.OriginRequestPolicy(
            f"{name}-api-requests",
            comment="API: cookies, query strings, the headers the app reads and the viewer's address",
            cookies_config={"cookie_behavior": "all"},
            query_strings_config={"query_string_behavior": "all"},
            headers_config={
                "header_behavior": "whitelist",
                "headers": {"items": [*API_VIEWER_HEADERS, VIEWER_ADDRESS_HEADER]},
            },
            opts=child,
        )
        api_cache = aws.cloudfront.CachePolicy(
            f"{name}-api-cache",
            comment="API: a bearer token reaches the app; nothing cached unless the app says so, keyed per viewer",
            default_ttl=0,
            min_ttl=0,
            max_ttl=1,
            parameters_in_cache_key_and_forwarded_to_origin={
                "cookies_config": {"cookie_behavior": "all"},
                "headers_config": {"header_behavior": "whitelist", "headers": {"items": list(API_CACHE_KEY_HEADERS)}},
                "query_strings_config": {"query_string_behavior": "all"},
            },
            opts=child,
        )
        api_behaviours = [
            {
                "path_pattern": path,
                "target_origin_id": API_ORIGIN,
                "viewer_protocol_policy": "https-only",
                "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": api_cache.id if path == "/api/*" else CACHING_DISABLED,
                "origin_request_policy_id": api_requests.id,
                "compress": False,
            }
            for path in API_PATHS
        ]
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class="PriceClass_100",
            default_root_object="index.html",
            origins=[
                {
                    "origin_id": UI_ORIGIN,
                    "domain_name": self.bucket.bucket.bucket_regional_domain_name,
                    "origin_access_control_id": oac.id,
                },
                {
                    "origin_id": API_ORIGIN,
                    "domain_name": api_host,
                    # Proves to the app that a request came through this distribution:
                    # CloudFront overwrites a viewer's header of the same name.
                    "custom_headers": [{"name": ORIGIN_VERIFY_HEADER, "value": pulumi.Output.secret(origin_secret)}],
                    "custom_origin_config": {
                        "http_port": 80,
                        "https_port": 443,
                        "origin_protocol_policy": "https-only",
                        "origin_ssl_protocols": ["TLSv1.2"],
                    },
                },
            ],
            default_cache_behavior={
                "target_origin_id": UI_ORIGIN,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_OPTIMIZED,
                "compress": True,
            },
            ordered_cache_behaviors=api_behaviours,
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={"cloudfront_default_certificate": True},
            opts=child,
        )
        self.bucket.attach_policy(
            pulumi.Output.all(self.bucket.bucket.arn, self.distribution.arn).apply(
                lambda a: [iam.cloudfront_read_statement(a[0], a[1])]
            )
        )
        self.url = self.distribution.domain_name.apply(lambda d: f"https://{d}")
        self.register_outputs({"url": self.url})
