//! Every endpoint of both releases, against a real server on a free port, checked against the
//! rows the seed plan generates.

use http::{Method, StatusCode, header};
use serde_json::{Value, json};
use shadowgate_example_inventory::{
    model::{Item, Order},
    seed::SeedPlan,
};

use crate::support::{Binary, HttpClient, Running, SMALL_PLAN, seed_args};

fn item_json(item: &Item) -> Value {
    serde_json::to_value(item).unwrap()
}

fn seeded_orders(plan: &SeedPlan) -> Vec<Order> {
    let prices: Vec<i64> = plan.items().map(|item| item.price_cents).collect();
    plan.orders(&prices).collect()
}

async fn every_endpoint_answers(binary: Binary) {
    let data = tempfile::tempdir().unwrap();
    let server = Running::serve(binary, data.path(), &seed_args(&SMALL_PLAN));
    let client = HttpClient::default();
    let items: Vec<Item> = SMALL_PLAN.items().collect();
    let orders = seeded_orders(&SMALL_PLAN);

    let health = client.get(&server.url("/healthz")).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["release"], binary.release());
    assert_eq!(health.json()["status"], "ok");

    // GET /items/{id}, twice: the second answer may come from the cache and must be the same.
    for _ in 0..2 {
        let reply = client.get(&server.url("/items/7")).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
        let body = reply.json();
        assert_eq!(body["item"], item_json(&items[6]));
        assert_eq!(body["price"], json!({"cents": items[6].price_cents, "source": "catalog"}));
    }
    let missing = client.get(&server.url("/items/99999")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["error"].as_str().unwrap().contains("99999"));
    let bad_id = client.get(&server.url("/items/seven")).await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_id.json()["field"], "id");

    // GET /items?category=&limit=&offset=
    let category = items[0].category.clone();
    let in_category: Vec<Value> =
        items.iter().filter(|item| item.category == category).map(item_json).collect();
    assert!(in_category.len() > 4, "the plan puts several items in {category}");
    let page =
        client.get(&server.url(&format!("/items?category={category}&limit=3&offset=1"))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.json()["items"], Value::Array(in_category[1..4].to_vec()));
    let first_page = client.get(&server.url("/items")).await.json();
    assert_eq!(first_page["items"].as_array().unwrap().len(), 20);
    assert_eq!(first_page["items"][0], item_json(&items[0]));
    let too_many = client.get(&server.url("/items?limit=101")).await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_many.json()["field"], "limit");
    assert!(too_many.json()["help"].as_str().unwrap().contains("20"));

    // GET /orders/{id}
    let order = client.get(&server.url("/orders/11")).await;
    assert_eq!(order.status, StatusCode::OK);
    assert_eq!(order.json(), serde_json::to_value(&orders[10]).unwrap());
    assert_eq!(client.get(&server.url("/orders/123456")).await.status, StatusCode::NOT_FOUND);

    // GET /customers/{id}/orders: newest first, limited.
    let customer_id = orders[0].customer_id;
    let mut expected: Vec<&Order> =
        orders.iter().filter(|order| order.customer_id == customer_id).collect();
    expected.sort_by_key(|order| std::cmp::Reverse((order.created_at, order.id)));
    assert!(expected.len() >= 3, "customer {customer_id} has several seeded orders");
    let listed = client.get(&server.url(&format!("/customers/{customer_id}/orders?limit=3"))).await;
    assert_eq!(listed.status, StatusCode::OK);
    let listed_ids: Vec<i64> = listed.json()["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["id"].as_i64().unwrap())
        .collect();
    let expected_ids: Vec<i64> = expected.iter().take(3).map(|order| order.id).collect();
    assert_eq!(listed_ids, expected_ids);
    assert_eq!(
        client.get(&server.url("/customers/100000/orders")).await.status,
        StatusCode::NOT_FOUND
    );

    // POST /orders, then read it back and see the stock taken.
    let item = items.iter().find(|item| item.stock >= 2).unwrap();
    let placed = client
        .post(
            &server.url("/orders"),
            &json!({"customer_id": 3, "lines": [{"item_id": item.id, "quantity": 2}]}).to_string(),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let placed_body = placed.json();
    assert_eq!(placed_body["total_cents"], item.price_cents * 2);
    assert_eq!(placed_body["status"], "paid");
    let location = placed.headers[header::LOCATION].to_str().unwrap().to_string();
    assert_eq!(location, format!("/orders/{}", placed_body["id"]));
    assert_eq!(client.get(&server.url(&location)).await.json(), placed_body);
    let after = client.get(&server.url(&format!("/items/{}", item.id))).await.json();
    assert_eq!(after["item"]["stock"], item.stock - 2);
    let newest = client.get(&server.url("/customers/3/orders?limit=1")).await.json();
    assert_eq!(newest["orders"][0]["id"], placed_body["id"]);

    // POST /orders refusals name the field to fix.
    for (body, status, field) in [
        (
            json!({"customer_id": 99999, "lines": [{"item_id": 1, "quantity": 1}]}),
            422,
            "customer_id",
        ),
        (
            json!({"customer_id": 1, "lines": [{"item_id": 99999, "quantity": 1}]}),
            422,
            "lines[0].item_id",
        ),
        (
            json!({"customer_id": 1, "lines": [{"item_id": item.id, "quantity": 1000}]}),
            409,
            "lines[0].quantity",
        ),
        (json!({"customer_id": 1, "lines": []}), 400, "lines"),
        (json!({"customer_id": 1, "lines": [{"item_id": 1, "qty": 1}]}), 400, "lines[0].qty"),
        (json!({"customer_id": "one", "lines": []}), 400, "customer_id"),
    ] {
        let reply = client.post(&server.url("/orders"), &body.to_string()).await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text());
        assert_eq!(reply.json()["field"], field, "{body}: {}", reply.text());
    }
    let not_json = client.post(&server.url("/orders"), "{\"customer_id\": 1,").await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert!(not_json.json()["help"].as_str().unwrap().contains("customer_id"));
    let huge = "x".repeat(100 * 1024);
    assert_eq!(
        client.post(&server.url("/orders"), &huge).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    // Unknown paths and wrong methods.
    let nowhere = client.get(&server.url("/nowhere")).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert!(nowhere.json()["help"].as_str().unwrap().contains("/items/{id}"));
    let wrong_method = client.send(Method::DELETE, &server.url("/orders/1"), "").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers[header::ALLOW], "GET");
    let get_orders = client.get(&server.url("/orders")).await;
    assert_eq!(get_orders.headers[header::ALLOW], "POST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_every_endpoint_answers() {
    every_endpoint_answers(Binary::V1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_every_endpoint_answers() {
    every_endpoint_answers(Binary::V2).await;
}
