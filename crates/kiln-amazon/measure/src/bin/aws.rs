// The same plus the parts of kiln-amazon's client a build uses.
use kiln_amazon::client::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let endpoint = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:5000".into());
    let mut loader = AwsConfig::loader().region("us-east-1");
    for s in Service::ALL {
        loader = loader.endpoint(s, &endpoint);
    }
    let cfg = loader
        .credentials(Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None))
        .load()?;
    let ec2 = Ec2Client::new(&cfg);
    let images = ec2
        .describe_images(&DescribeImages { owners: vec!["099720109477".into()], ..DescribeImages::default() })
        .await?;
    println!("{} images", images.len());
    let run = ec2
        .run_instances(&RunInstances {
            image_id: images[0].image_id.clone(),
            instance_type: "t3.micro".into(),
            ..Default::default()
        })
        .await?;
    let i = ec2.wait_instance_running(&run[0].instance_id, &WaitConfig::default(), std::future::pending()).await?;
    println!("{} {:?}", i.instance_id, i.public_ip_address);
    ec2.terminate_instances(&[i.instance_id]).await?;
    println!("{:?}", StsClient::new(&cfg).get_caller_identity().await?);
    match SsmClient::new(&cfg).get_parameter("/x", true).await {
        Ok(p) => println!("{p:?}"),
        Err(e) => println!("{e}"),
    }
    match SecretsManagerClient::new(&cfg).get_secret_value("x", None, None).await {
        Ok(v) => println!("{v:?}"),
        Err(e) => println!("{e}"),
    }
    Ok(())
}
