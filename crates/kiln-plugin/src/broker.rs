//! The stream broker both sides run over yamux: a stream starts with the little-endian u32 id
//! of the server it wants, and the accepting side echoes the id back as its ack. Id 0 is the
//! plugin's component; every other id is a server one side hosts and names in an RPC argument.
//! Each side numbers its own servers from 1, so ids only mean something to the side that accepts.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::yamux::{Incoming, Session, Stream};

/// How long a stream the plugin dialled waits for us to accept it, and how long we wait for an
/// ack or an expected dial (Packer waits 5 s; a loaded machine deserves more).
const WAIT: Duration = Duration::from_secs(30);

enum Slot {
    Arrived(Stream),
    Waiting(oneshot::Sender<Stream>),
}

pub(crate) struct Broker {
    session: Session,
    next_id: AtomicU32,
    slots: Mutex<HashMap<u32, Slot>>,
}

impl Broker {
    pub(crate) fn new(session: Session, mut incoming: Incoming) -> Arc<Broker> {
        let broker = Arc::new(Broker { session, next_id: AtomicU32::new(0), slots: Mutex::new(HashMap::new()) });
        let weak = Arc::downgrade(&broker);
        tokio::spawn(async move {
            while let Some(stream) = incoming.next().await {
                let weak = weak.clone();
                tokio::spawn(async move {
                    let mut stream = stream;
                    let mut id = [0u8; 4];
                    if tokio::time::timeout(WAIT, stream.read_exact(&mut id)).await.is_err() {
                        return;
                    }
                    if let Some(broker) = weak.upgrade() {
                        broker.arrived(u32::from_le_bytes(id), stream);
                    }
                });
            }
        });
        broker
    }

    fn arrived(self: Arc<Self>, id: u32, stream: Stream) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        match slots.remove(&id) {
            Some(Slot::Waiting(tx)) => {
                let _ = tx.send(stream);
            }
            // A second dial of the same id: the first one stays, this one is dropped.
            Some(arrived @ Slot::Arrived(_)) => {
                slots.insert(id, arrived);
            }
            None => {
                slots.insert(id, Slot::Arrived(stream));
                drop(slots);
                // Nobody asked for it (yet): drop it if nobody does in time.
                let weak = Arc::downgrade(&self);
                tokio::spawn(async move {
                    tokio::time::sleep(WAIT).await;
                    if let Some(b) = weak.upgrade() {
                        let mut slots = b.slots.lock().unwrap_or_else(|p| p.into_inner());
                        if matches!(slots.get(&id), Some(Slot::Arrived(_))) {
                            slots.remove(&id);
                        }
                    }
                });
            }
        }
    }

    /// A fresh id for a server we host.
    pub(crate) fn next_id(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Connects to the plugin's server `id`.
    pub(crate) async fn dial(&self, id: u32) -> io::Result<Stream> {
        let mut stream = self.session.open()?;
        stream.write_all(&id.to_le_bytes()).await?;
        let mut ack = [0u8; 4];
        match tokio::time::timeout(WAIT, stream.read_exact(&mut ack)).await {
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, format!("the plugin did not accept stream {id}"))),
            Ok(Err(e)) => Err(e),
            Ok(Ok(_)) if u32::from_le_bytes(ack) != id => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the plugin acked stream {} when asked for {id}", u32::from_le_bytes(ack)),
            )),
            Ok(Ok(_)) => Ok(stream),
        }
    }

    /// Waits for the plugin to connect to our server `id`.
    pub(crate) async fn accept(&self, id: u32) -> io::Result<Stream> {
        let arrived = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            match slots.remove(&id) {
                Some(Slot::Arrived(stream)) => Ok(stream),
                _ => {
                    let (tx, rx) = oneshot::channel();
                    slots.insert(id, Slot::Waiting(tx));
                    Err(rx)
                }
            }
        };
        let rx = match arrived {
            Ok(stream) => return ack(stream, id).await,
            Err(rx) => rx,
        };
        let stream = tokio::select! {
            r = rx => r.map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the broker stopped"))?,
            _ = tokio::time::sleep(WAIT) => {
                self.slots.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                return Err(io::Error::new(io::ErrorKind::TimedOut, format!("the plugin never connected to stream {id}")));
            }
            _ = self.session.closed() => {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, self.session.closed_reason().unwrap_or_default()));
            }
        };
        ack(stream, id).await
    }

    pub(crate) fn session(&self) -> &Session {
        &self.session
    }
}

async fn ack(mut stream: Stream, id: u32) -> io::Result<Stream> {
    stream.write_all(&id.to_le_bytes()).await?;
    Ok(stream)
}
