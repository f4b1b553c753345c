// Load test of the scoring API at the stated request rate, held to the stated p95 latency.
// deploy.yml runs it against staging after each apply; the run fails when a threshold fails.
// Environment: TARGET_URL, RATE (requests per second), P95_MS, MAX_ERROR_RATE, DURATION%%{auth_env}.
// The latency measured here includes the network between the runner and the region: run it
// from a runner in the region (or accept the margin) when the target is tight.
import http from "k6/http";
import { check } from "k6";
%%{auth_import}
const body = open("./request.json");
const rate = Number(__ENV.RATE || 50);

export const options = {
  scenarios: {
    stated_rate: {
      executor: "constant-arrival-rate",
      rate: rate,
      timeUnit: "1s",
      duration: __ENV.DURATION || "5m",
      preAllocatedVUs: Math.max(10, Math.ceil(rate * 0.2)),
      maxVUs: Math.max(50, Math.ceil(rate * 2)),
    },
  },
  thresholds: {
    http_req_duration: [`p(95)<${__ENV.P95_MS || 200}`],
    http_req_failed: [`rate<${__ENV.MAX_ERROR_RATE || 0.01}`],
    // The generator itself must keep up, or the rate was never reached.
    dropped_iterations: [`count<${Math.ceil(rate)}`],
  },
};

%%{auth_setup}export default function () {
  const request = %%{request};
  const res = http.post(request.url, body, { headers: request.headers });
  check(res, { "answered 200": (r) => r.status === 200 });
}
