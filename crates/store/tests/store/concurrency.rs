//! Concurrent writers to one key with concurrent readers: every read is one writer's version.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use aws_sdk_s3::primitives::ByteStream;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_one_key() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..16u64)
            .map(|i| pattern(200_000 + usize::try_from(i).unwrap() * 7919, 1000 + i))
            .collect(),
    );
    c.put_object()
        .bucket(BUCKET)
        .key("hot")
        .body(ByteStream::from(bodies[0].clone()))
        .metadata("writer", "0")
        .send()
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (c, bodies, stop, reads) = (
            c.clone(),
            Arc::clone(&bodies),
            Arc::clone(&stop),
            Arc::clone(&reads),
        );
        readers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let out = get(&c, BUCKET, "hot").await;
                let writer: usize = out
                    .metadata()
                    .unwrap()
                    .get("writer")
                    .unwrap()
                    .parse()
                    .unwrap();
                let etag = out.e_tag().unwrap().trim_matches('"').to_owned();
                let md = out.metadata().unwrap().get("md5").cloned();
                let body = body_bytes(out).await;
                assert_eq!(body, bodies[writer], "body is not writer {writer}'s");
                assert_eq!(etag, md5_hex(&body), "etag does not match the body");
                if let Some(md) = md {
                    assert_eq!(md, etag, "metadata of another writer");
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut writers = Vec::new();
    for i in 0..16usize {
        let (c, bodies) = (c.clone(), Arc::clone(&bodies));
        writers.push(tokio::spawn(async move {
            for _ in 0..3 {
                let out = c
                    .put_object()
                    .bucket(BUCKET)
                    .key("hot")
                    .metadata("writer", i.to_string())
                    .metadata("md5", md5_hex(&bodies[i]))
                    .body(ByteStream::from(bodies[i].clone()))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(out.e_tag().unwrap().trim_matches('"'), md5_hex(&bodies[i]));
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    assert!(reads.load(Ordering::Relaxed) > 0);
    // one object left: exactly one data file, no temp files
    assert_eq!(files_under(&srv.root.join("data")).len(), 1);
    assert!(files_under(&srv.root.join("tmp")).is_empty());
}
