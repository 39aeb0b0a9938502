/**
 * Where the test services are: `DATABASE_URL` and `REDIS_URL`, with the defaults of these
 * machines. A separate entry point (`@braid/testing/urls`) without vitest, so benchmarks and
 * scripts can import it too.
 */
export const DATABASE_URL = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"
export const REDIS_URL = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"
