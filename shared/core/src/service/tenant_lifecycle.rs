//! An operator's hold on a tenant: suspend (every credential refused with 403
//! `tenant_suspended`, work in flight left to finish), resume, and delete (every item of the
//! tenant and every object of its videos, once nothing of it is running or billed).

use crate::Error;
use crate::domain::job::{StagedClip, staged_clip_blob};
use crate::domain::keys;
use crate::domain::{Job, TenantStatus};
use crate::error::Result;
use crate::ports::{BlobKey, BlobStore, Cond, Item, ItemStore, Query, StoreError, Update};

/// Sets the tenant's status; the next request of any of its credentials sees it.
pub async fn set_status(
    store: &dyn ItemStore,
    tenant_id: &str,
    status: TenantStatus,
) -> Result<crate::domain::Tenant> {
    let upd = Update::new(keys::tenant_pk(tenant_id), keys::TENANT_SK)
        .set("status", status.as_str())
        .when(Cond::Exists);
    match store.update(upd).await {
        Ok(item) => crate::domain::Tenant::from_item(&item).ok_or(Error::NotFound("tenant")),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::NotFound("tenant")),
        Err(e) => Err(e.into()),
    }
}

/// What deleting a tenant removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    pub items: usize,
    pub objects: usize,
}

/// Every item of the tenant's partition, page by page.
async fn all_items(store: &dyn ItemStore, tenant_id: &str) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::new(keys::tenant_pk(tenant_id), "")
                    .limit(crate::ports::item_store::MAX_PAGE)
                    .after(cursor),
            )
            .await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(items),
        }
    }
}

/// The objects a provider's render of one clip left in our bucket: `(provider, task id when
/// the provider took the clip, the clip's idempotency key)`.
pub type RenderOf = dyn Fn(&str, Option<&str>, &str) -> Vec<BlobKey>;

/// Deletes the tenant: its media first (the final video and its captions, the staging
/// copies and clips, and each render a provider left in our bucket, named by
/// `render_of(provider, task_id, idempotency_key)`: the task when the provider took the clip,
/// and the clip's idempotency key either way, since a render that failed may have left files
/// too (the storyboard's kept narration)), then its API-key
/// lookups, then every item of its partition, the tenant item last so that a delete cut short
/// can be run again. Refused (409) while a job is still running (`jobs_running`: suspend it
/// and let them end, so no paid call is cut off) or a Stripe subscription still bills it
/// (`subscription_active`: cancel it first).
pub async fn delete_tenant(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    now: crate::clock::Timestamp,
    tenant_id: &str,
    render_of: &RenderOf,
) -> Result<Deleted> {
    let tenant = crate::service::tenants::get_tenant(store, tenant_id)
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    if tenant
        .billing
        .standing(tenant.plan, now)
        .subscription_id
        .is_some()
    {
        return Err(Error::State {
            code: "subscription_active",
            message: "a Stripe subscription still bills this tenant; cancel it first".into(),
        });
    }
    let items = all_items(store, tenant_id).await?;
    let jobs: Vec<Job> = Item::decode_all(
        items.iter().filter(|i| i.sk.starts_with("JOB#")),
        "job",
        |i| Job::from_item(tenant_id, i),
    );
    let running = jobs.iter().filter(|j| !j.status.is_terminal()).count();
    if running > 0 {
        return Err(Error::State {
            code: "jobs_running",
            message: format!(
                "{running} job(s) still running; suspend the tenant, let them end, then delete"
            ),
        });
    }
    let mut objects = Vec::new();
    for job in &jobs {
        if let Some(k) = job
            .video_key
            .as_deref()
            .and_then(|k| BlobKey::parse(k).ok())
        {
            objects.push(k);
        }
        let derived = [
            // A video written by a join whose job then failed (see `refund_job`).
            format!("tenants/{tenant_id}/videos/{}.mp4", job.id),
            format!("staging/tenants/{tenant_id}/{}.vtt", job.id),
            format!("staging/tenants/{tenant_id}/{}.srt", job.id),
            format!("tenants/{tenant_id}/captions/{}.vtt", job.id),
            format!("tenants/{tenant_id}/captions/{}.srt", job.id),
        ];
        objects.extend(derived.iter().filter_map(|k| BlobKey::parse(k).ok()));
    }
    for submit in items.iter().filter(|i| i.sk.starts_with("SUBMIT#")) {
        // `SUBMIT#<job>#<attempt>#<clip>`: the clip as fetched, and as a poll handed it over.
        let mut parts = submit.sk.split('#').skip(1);
        let (job_id, attempt, clip) = (
            parts.next(),
            parts.next().and_then(|a| a.parse().ok()),
            parts.next().and_then(|c| c.parse().ok()),
        );
        let task = submit.str("task_id");
        if let (Some(job_id), Some(clip)) = (job_id, clip) {
            let mut staged = vec![staged_clip_blob(
                tenant_id,
                job_id,
                StagedClip::Fetched(clip),
            )];
            staged.extend(task.map(|t| staged_clip_blob(tenant_id, job_id, StagedClip::Polled(t))));
            objects.extend(staged.iter().filter_map(|k| BlobKey::parse(k).ok()));
        }
        if let (Some(provider), Some(job_id), Some(attempt), Some(clip)) =
            (submit.str("provider"), job_id, attempt, clip)
        {
            let key = crate::service::submits::ClipRef {
                tenant_id: tenant_id.to_owned(),
                job_id: job_id.to_owned(),
                attempt,
                clip,
            }
            .idempotency_key();
            objects.extend(render_of(provider, task, &key));
        }
    }
    let mut deleted = Deleted::default();
    for key in &objects {
        if blobs.head(key).await?.is_some() {
            blobs.delete(key).await?;
            deleted.objects += 1;
        }
    }
    for key in items
        .iter()
        .filter(|i| i.sk.starts_with(keys::KEY_SK_PREFIX))
    {
        if let Some(prefix) = key.str("prefix") {
            store
                .delete(
                    &keys::api_key_lookup_pk(prefix),
                    keys::API_KEY_LOOKUP_SK,
                    Cond::None,
                )
                .await?;
        }
    }
    for item in items.iter().filter(|i| i.sk != keys::TENANT_SK) {
        store.delete(&item.pk, &item.sk, Cond::None).await?;
        deleted.items += 1;
    }
    store
        .delete(&keys::tenant_pk(tenant_id), keys::TENANT_SK, Cond::None)
        .await?;
    deleted.items += 1;
    tracing::info!(
        tenant_id,
        items = deleted.items,
        objects = deleted.objects,
        "tenant deleted"
    );
    Ok(deleted)
}
