// The baseline for `viral bench cold-start`: what a Node.js Lambda of this product loads at
// init — the DynamoDB client and Stripe's — then the Runtime API loop (what the Node runtime
// interface client does, without its own start-up, so the baseline errs in Node's favour).
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import Stripe from "stripe";

const ddb = new DynamoDBClient({});
const stripe = new Stripe(process.env.STRIPE_SECRET_KEY ?? "sk_test_baseline");
const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;

for (;;) {
  const next = await fetch(`${api}/invocation/next`);
  const id = next.headers.get("lambda-runtime-aws-request-id");
  await next.json();
  // Touch both clients so nothing is loaded lazily after init.
  const ready = typeof ddb.send === "function" && typeof GetItemCommand === "function" && !!stripe.customers;
  await fetch(`${api}/invocation/${id}/response`, {
    method: "POST",
    body: JSON.stringify({ statusCode: ready ? 200 : 500, body: "ok" }),
  });
}
